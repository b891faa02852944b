"""Units of work on a Ray cluster, the other backend beside `aecore.workers`: with `AECORE_RAY_ADDRESS` set,
`jobs.registry()` is `jobs.ray_registry()`, whose jobs run `units.train_job` here, and `jobs.map_runner()` sends
maps (`units.projection`, which carries its codes) to `map_backend`.

Each job is still work on an executor (its id is the executor's, so a refresh rejoins it), but that work
only follows a Ray actor that runs the unit on a worker: Ray's scheduler, not a local slot, decides when
and where it trains, giving it `AECORE_RAY_CPUS` CPUs (default 1) and `AECORE_RAY_GPUS` GPUs (default 0; a
fraction shares one) when the cluster has them. The job reads "queued", with its place among the jobs
waiting here, until a worker has picked it up. The server drains the actor's training events every
`HAND_OVER_SECONDS` into the job's snapshot with the local jobs' own `follow_events`, and Stop reaches
the unit's per-batch check at once. The weights come back as safetensors bytes and the server saves
the run in its own store, so workers need no shared file system. A worker that dies fails the job, never
done: nothing is retried. Ray is imported here only, and `jobs.registry()` imports this module only when asked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from . import settings, units
from .background import Outcome, Stopped, keep_running
from .device import set_threads
from .settings import check_ray_address
from .train import TrainEvent, TrainResult
from .workers import Task, WorkerLost

log = logging.getLogger(__name__)
ADDRESS = settings.RAY_ADDRESS
HAND_OVER_SECONDS = 0.1  # how often a worker hands over its events and hears a stop; the server drains as often
CANCEL_AFTER = 20.0  # seconds a stopped task has to end by itself (it checks every batch) before Ray kills it
IN_FLIGHT = 1024  # jobs followed at once: far more than a class starts, since Ray's scheduler does the queueing


@dataclass(frozen=True)
class Worker:
    """Where a job trains, as its task reported it, and when it began and ended there (worker clock, time.time())."""

    host: str
    pid: int
    node_id: str
    started: float
    ended: float | None = None


def connect(address: str) -> None:
    """Join the cluster at `address` once per process; `local` starts a Ray of this machine's own."""
    if ray.is_initialized():
        return
    if address != "local":
        try:  # aecore travels to the workers (bundled samples too), so they need only the requirements
            ray.init(address=address, log_to_driver=False, runtime_env={"py_modules": [str(Path(__file__).parent)]})
        except Exception as err:
            raise ConnectionError(f"cannot reach the Ray cluster at {address} ({type(err).__name__}: {err}); "
                                  f"start it with `ray start --head` or fix {ADDRESS}") from None
        return
    # Ray's own processes die with the thread that started them (PR_SET_PDEATHSIG), and a job's thread
    # ends with the job: a local Ray is started by a thread that lives as long as the server.
    failed: list[BaseException] = []
    started = threading.Event()

    def keep_alive() -> None:
        try:
            ray.init(address="local", include_dashboard=False, log_to_driver=False)
        except BaseException as err:
            failed.append(err)
        started.set()
        threading.Event().wait()

    keep_running("aecore-ray", keep_alive)
    started.wait()
    if failed:
        raise ConnectionError(f"cannot start a local Ray ({type(failed[0]).__name__}: {failed[0]})") from failed[0]


@ray.remote(max_concurrency=3)  # run, and drain or stop beside it in the actor's other threads
class _Runner:
    """One unit of work on a Ray worker: `run` runs it, while `drain`, `stop`, `pause` and `resume` answer at once
    from other threads. The actor is the unit's `ctx`, as a local worker's context is.

    An actor rather than a task: a task could hear a stop only by waiting on a reply, and Ray lends a waiting
    task's CPU to the next job in line, so more jobs would train than the cluster has CPUs.
    """

    def __init__(self, cpus: float):
        set_threads(max(1, int(cpus)))  # the CPUs Ray gave this unit, not every CPU of its machine
        self._events: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resumed = threading.Event()  # cleared while paused
        self._resumed.set()
        self.stop_note: Any = None

    def run(self, task: Task) -> Any:
        """The unit, with this actor as its context; a worker's own settings (its data folder) stay its own."""
        self._add("started", Worker(socket.gethostname(), os.getpid(), ray.get_runtime_context().get_node_id(),
                                    time.time()))
        try:
            return "result", task.fn(*task.args, self)
        except Stopped:
            return "stopped", None

    def drain(self) -> list[tuple[str, Any]]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def stop(self, note: Any) -> None:
        self.stop_note = note  # read by the unit once it has stopped, so set before the stop
        self._stop.set()
        self._resumed.set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    def should_stop(self) -> bool:
        self._resumed.wait()  # a paused unit waits here between batches, holding its model and optimiser
        return self._stop.is_set()

    def report(self, fraction: float, message: str = "", detail: Any = None) -> None:
        if self.should_stop():
            raise Stopped()
        self.publish(fraction, message, detail)

    def publish(self, fraction: float, message: str = "", detail: Any = None) -> None:
        self._add("progress", (fraction, message, detail))

    def _add(self, kind: str, payload: Any) -> None:
        with self._lock:
            self._events.append((kind, payload))


class ClusterTooSmall(ValueError):
    """The cluster has no machine with the CPUs each job asks for."""


class RayBackend:
    """Units of work on Ray, as `aecore.workers.WorkerPool` runs them locally: `run(task, ctx, ...)` in an executor
    thread of the server, until the unit has ended on a worker."""

    def __init__(self, address: str, cpus: float, gpus: float, doing: str = "training this model",
                 again: str = "Click Train again."):
        self.address, self.cpus, self.gpus = check_ray_address(address), cpus, gpus
        self.doing, self.again = doing, again  # what a lost worker's sentence says it was doing, and what to do
        self._lock = threading.Lock()

    def run(self, task: Task, ctx: Any, on_stop: Callable[[], Any] = lambda: None,
            cancel_after: float = CANCEL_AFTER, on_report: Callable[[float, str, Any], None] | None = None,
            on_start: Callable[[Worker], None] = lambda worker: None) -> Any:
        """Run `task` on a Ray worker following `ctx`; `on_start(worker)` hears where, once a worker takes it."""
        runner = None
        try:
            with self._lock:
                connect(self.address)
                self._check_fits()
                gpus = self._gpus()
            runner = _Runner.options(num_cpus=self.cpus, num_gpus=gpus).remote(self.cpus)
            return self._follow(ctx, runner, runner.run.remote(task), on_stop, cancel_after,
                                on_report or ctx.publish, on_start)
        finally:
            if runner is not None:
                with contextlib.suppress(Exception):  # gone with the cluster already: nothing left to free
                    ray.kill(runner)  # frees its worker and CPUs for the next unit

    def _check_fits(self) -> None:  # caller holds the lock
        """A job the cluster's largest machine cannot hold would wait in Ray's queue for ever: refuse it, saying why."""
        largest = max((n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")), default=0.0)
        if self.cpus > largest:
            raise ClusterTooSmall(
                f"each job asks the cluster for {self.cpus:g} CPUs (AECORE_RAY_CPUS), but its largest machine has "
                f"{largest:g}, so no job could ever start there; whoever runs the app should set AECORE_RAY_CPUS to "
                f"at most {largest:g} and start it again")

    def _gpus(self) -> float:  # caller holds the lock
        if self.gpus and ray.cluster_resources().get("GPU", 0) < self.gpus:
            log.warning("%s GPUs per job were asked for, but the cluster has none to give: training on CPUs", self.gpus)
            return 0
        return self.gpus

    def _follow(self, ctx: Any, runner: Any, ref: Any, on_stop: Callable[[], Any], cancel_after: float,
                on_report: Callable[[float, str, Any], None], on_start: Callable[[Worker], None]) -> Any:
        """Drain the unit's events until it has ended; its result, or Stopped."""
        stop_sent, cancelled, paused, started = None, False, False, [False]

        def handle(events: list[tuple[str, Any]]) -> None:
            for kind, payload in events:
                if kind == "started":
                    started[0] = True
                    on_start(payload)
                else:
                    on_report(*payload)

        pending = runner.drain.remote()  # answered once the actor is up, and again every HAND_OVER_SECONDS
        while not ray.wait([ref], timeout=0)[0]:
            if ray.wait([pending], timeout=HAND_OVER_SECONDS)[0]:
                try:
                    handle(ray.get(pending))
                except ray.exceptions.RayError:
                    break  # the actor is gone: the result says how
                pending = runner.drain.remote()
                time.sleep(HAND_OVER_SECONDS)
            if ctx.paused() != paused and stop_sent is None:
                paused = not paused
                (runner.pause if paused else runner.resume).remote()
            if stop_sent is None and ctx.unwatched():
                ctx.give_up()  # the page moved on or closed: nothing is computed for nobody
            if ctx.stop_asked() and stop_sent is None:
                if not started[0]:
                    ray.kill(runner)  # still in Ray's queue: it never starts
                    cancelled = True
                else:
                    runner.stop.remote(on_stop())
                stop_sent = time.monotonic()
            elif stop_sent is not None and time.monotonic() - stop_sent > cancel_after:
                ray.kill(runner)  # stuck outside the training loop, e.g. loading data
                cancelled = True
        with contextlib.suppress(ray.exceptions.RayError):  # the last events, in order, unless the actor died
            handle(ray.get(pending))
            handle(ray.get(runner.drain.remote()))
        try:
            kind, value = ray.get(ref)
        except ray.exceptions.RayTaskError as err:  # the unit itself raised: it fails as a local one would
            raise err.cause from None
        except ray.exceptions.RayError as err:
            if cancelled:
                raise Stopped() from None
            if isinstance(err, ray.exceptions.ActorDiedError) and err.actor_init_failed:
                why = str(err).strip().splitlines()[-1]
                raise WorkerLost(f"a Ray worker could not set up this work ({why}): each worker needs "
                                 "requirements-cluster.txt installed, as the README's \"Running for a class\" "
                                 "says") from None
            raise WorkerLost(f"the Ray worker {self.doing} stopped unexpectedly ({type(err).__name__}: its "
                             "process was killed or ran out of memory, or its machine left the cluster); nothing "
                             f"was saved. {self.again}") from None
        if kind == "stopped":
            raise Stopped()
        return value


@functools.cache
def map_backend(address: str) -> RayBackend:
    """The backend for maps on the cluster at `address`: one CPU each and no GPU (UMAP and t-SNE run on CPUs)."""
    return RayBackend(address, 1.0, 0.0, doing="drawing this map", again="Choose the map again to retry.")


class RayTraining:
    """How a registry's jobs train on Ray: `units.train_job` on the Ray backend, one call per job, in the job's
    executor thread; the job reads "queued", with its place among this server's waiting jobs, until a worker
    takes it."""

    def __init__(self, backend: RayBackend, follow: Callable[[Any, Any], Callable[[TrainEvent], None]],
                 save: Callable[[Any, TrainResult, str | Path | None], Outcome]):
        """`follow(job, ctx)` and `save(job, result, root)` are the local jobs' own (aecore.jobs hands them in)."""
        self.backend, self.follow, self.save = backend, follow, save
        self._waiting: list[Any] = []  # jobs handed to Ray that no worker has picked up yet, oldest first
        self._workers: dict[str, Worker] = {}
        self._lock = threading.Lock()

    def worker(self, job_id: str) -> Worker | None:
        """Where the job trains (or trained), once a worker has picked it up."""
        with self._lock:
            return self._workers.get(job_id)

    def __call__(self, job: Any, ctx: Any, root: str | Path | None) -> Outcome:
        job.update(state="queued")  # until a worker picks it up: Ray's scheduler decides when
        self._waiting_changed(add=job)
        on_event = self.follow(job, _Quiet())
        try:
            out = self.backend.run(Task(units.train_job, (job.cfg,)), ctx, on_stop=lambda: job.keep_partial,
                                   on_report=lambda fraction, message, event: on_event(event),
                                   on_start=lambda worker: self._started(job, worker))
        except Stopped:
            message = f"Stopped{'' if self.worker(job.id) else ' before it started'}; nothing was saved."
            job.update(state="stopped", message=message, queue_position=0)
            return Outcome("stopped", None, message)
        finally:
            self._waiting_changed(remove=job)
        with self._lock:
            if job.id in self._workers:
                self._workers[job.id] = dataclasses.replace(self._workers[job.id], ended=time.time())
        return self.save(job, units.train_result(job.cfg, out), root)

    def _waiting_changed(self, add: Any = None, remove: Any = None) -> None:
        """Add or remove a waiting job, and give every waiting job its place in line."""
        with self._lock:
            if add is not None:
                self._waiting.append(add)
            if remove is not None and remove in self._waiting:
                self._waiting.remove(remove)
            for place, job in enumerate(self._waiting, 1):
                job.update(queue_position=place)

    def _started(self, job: Any, worker: Worker) -> None:
        with self._lock:
            self._workers[job.id] = worker
        self._waiting_changed(remove=job)
        job.started = time.time()  # elapsed counts training, not the wait for a worker
        job.update(state="running", queue_position=0, elapsed=0.0)


class _Quiet:
    """The context `follow_events` reports to: the job's snapshot, not the executor's fraction, is what pages read."""

    def publish(self, fraction: float, message: str = "", detail: Any = None) -> None:
        pass
