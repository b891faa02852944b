"""Training jobs on a Ray cluster: with `AECORE_RAY_ADDRESS` set, `jobs.registry()` is `jobs.ray_registry()`.

Each job is still work on an executor (its id is the executor's, so a refresh rejoins it), but that work
only follows a Ray actor that runs `train_run` on a worker: Ray's scheduler, not a local slot, decides when
and where it trains, giving it `AECORE_RAY_CPUS` CPUs (default 1) and `AECORE_RAY_GPUS` GPUs (default 0; a
fraction shares one) when the cluster has them. The job reads "queued", with its place among the jobs
waiting here, until a worker has picked it up. The server drains the actor's training events every
`HAND_OVER_SECONDS` into the job's snapshot with the local jobs' own `follow_events`, and Stop reaches
`train_run`'s per-batch check at once. The weights come back as safetensors bytes and the server saves
the run in its own store, so workers need no shared file system. A worker that dies fails the job, never
done: nothing is retried. Ray is imported here only, and `jobs.registry()` imports this module only when asked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import ray
import safetensors.torch

from . import settings
from .background import Context, Outcome
from .config import RunConfig, from_dict, to_dict
from .device import pick_device, set_threads
from .models import build_model
from .settings import check_ray_address
from .train import TrainEvent, TrainResult, train_run

log = logging.getLogger(__name__)
ADDRESS = settings.RAY_ADDRESS
HAND_OVER_SECONDS = 0.1  # how often a worker hands over its events and hears a stop; the server drains as often
CANCEL_AFTER = 20.0  # seconds a stopped task has to end by itself (it checks every batch) before Ray kills it
IN_FLIGHT = 1024  # jobs followed at once: far more than a class starts, since Ray's scheduler does the queueing


class WorkerLost(RuntimeError):
    """The Ray worker training a job died, or its machine left the cluster."""


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

    threading.Thread(target=keep_alive, name="aecore-ray", daemon=True).start()
    started.wait()
    if failed:
        raise ConnectionError(f"cannot start a local Ray ({type(failed[0]).__name__}: {failed[0]})") from failed[0]


@ray.remote(max_concurrency=3)  # train, and drain or stop beside it in the actor's other threads
class _Trainer:
    """One job on a worker: `train` runs `train_run`, while `drain` and `stop` answer at once from other threads.

    An actor rather than a task: a task could hear a stop only by waiting on a reply, and Ray lends a waiting
    task's CPU to the next job in line, so more jobs would train than the cluster has CPUs.
    """

    def __init__(self, cpus: float):
        set_threads(max(1, int(cpus)))  # the CPUs Ray gave this job, not every CPU of its machine
        self._events: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resumed = threading.Event()  # cleared while paused
        self._resumed.set()
        self._keep = False

    def train(self, cfg: dict) -> dict:
        """The whole job; the model comes back as safetensors bytes, only when it may be saved."""
        self._add("started", Worker(socket.gethostname(), os.getpid(), ray.get_runtime_context().get_node_id(),
                                    time.time()))
        result = train_run(from_dict(cfg), pick_device(), partial(self._add, "event"), self._should_stop,
                           previews=True, keep_partial=lambda: self._keep)
        tensors = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
        rest = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
                if f.name not in ("config", "model")}  # the model travels as its weights alone
        return {"input_shape": tuple(result.model.image_shape), "ended": time.time(), "result": rest,
                "weights": safetensors.torch.save(tensors) if result.savable else None}

    def drain(self) -> list[tuple[str, Any]]:
        with self._lock:
            events, self._events = self._events, []
        return events

    def stop(self, keep: bool) -> None:
        self._keep = keep  # read by train_run once it has stopped, so set before the stop
        self._stop.set()
        self._resumed.set()

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    def _should_stop(self) -> bool:
        self._resumed.wait()  # a paused job waits here between batches, holding its model and optimiser
        return self._stop.is_set()

    def _add(self, kind: str, payload: Any) -> None:
        with self._lock:
            self._events.append((kind, payload))


class RayTraining:
    """How a registry's jobs train on Ray: one call per job, in the job's executor thread, until it has ended."""

    def __init__(self, address: str, cpus: float, gpus: float,
                 follow: Callable[[Any, Any], Callable[[TrainEvent], None]],
                 save: Callable[[Any, TrainResult, str | Path | None], Outcome]):
        """`follow(job, ctx)` and `save(job, result, root)` are the local jobs' own (aecore.jobs hands them in)."""
        self.address, self.cpus, self.gpus = check_ray_address(address), cpus, gpus
        self.follow, self.save = follow, save
        self._waiting: list[str] = []  # jobs handed to Ray that no worker has picked up yet, oldest first
        self._workers: dict[str, Worker] = {}
        self._lock = threading.Lock()

    def worker(self, job_id: str) -> Worker | None:
        """Where the job trains (or trained), once a worker has picked it up."""
        with self._lock:
            return self._workers.get(job_id)

    def __call__(self, job: Any, ctx: Context, root: str | Path | None) -> Outcome:
        job.update(state="queued")  # until a worker picks it up: Ray's scheduler decides when
        with self._lock:
            self._waiting.append(job.id)
        trainer = None
        try:
            with self._lock:
                connect(self.address)
                gpus = self._gpus()
            trainer = _Trainer.options(num_cpus=self.cpus, num_gpus=gpus).remote(self.cpus)
            on_event = self.follow(job, _Quiet())
            out = self._follow(job, ctx, trainer, trainer.train.remote(to_dict(job.cfg)), on_event)
        finally:
            with self._lock:
                if job.id in self._waiting:
                    self._waiting.remove(job.id)
            if trainer is not None:
                with contextlib.suppress(Exception):  # gone with the cluster already: nothing left to free
                    ray.kill(trainer)  # frees its worker and CPUs for the next job
        if out is None:
            message = f"Stopped{'' if self.worker(job.id) else ' before it started'}; nothing was saved."
            job.update(state="stopped", message=message, queue_position=0)
            return Outcome("stopped", None, message)
        with self._lock:
            if job.id in self._workers:
                self._workers[job.id] = dataclasses.replace(self._workers[job.id], ended=out["ended"])
        return self.save(job, _result(job.cfg, out), root)

    def _gpus(self) -> float:  # caller holds the lock
        if self.gpus and ray.cluster_resources().get("GPU", 0) < self.gpus:
            log.warning("%s GPUs per job were asked for, but the cluster has none to give: training on CPUs", self.gpus)
            return 0
        return self.gpus

    def _follow(self, job: Any, ctx: Context, trainer: Any, ref: Any,
                on_event: Callable[[TrainEvent], None]) -> dict | None:
        """Drain the job's events until it has ended; its result, or None when it was stopped before it began."""
        stop_sent, cancelled, paused = None, False, False
        pending = trainer.drain.remote()  # answered once the actor is up, and again every HAND_OVER_SECONDS
        while not ray.wait([ref], timeout=0)[0]:
            if ray.wait([pending], timeout=HAND_OVER_SECONDS)[0]:
                try:
                    self._handle(job, ray.get(pending), on_event)
                except ray.exceptions.RayError:
                    break  # the actor is gone: the result says how
                pending = trainer.drain.remote()
                time.sleep(HAND_OVER_SECONDS)
            with self._lock:
                waiting = self._waiting.index(job.id) + 1 if job.id in self._waiting else 0
            if waiting:
                job.update(queue_position=waiting)
            if ctx.paused() != paused and stop_sent is None:
                paused = not paused
                (trainer.pause if paused else trainer.resume).remote()
            if ctx.stop_asked() and stop_sent is None:
                if waiting:
                    ray.kill(trainer)  # still in Ray's queue: it never starts
                    cancelled = True
                else:
                    trainer.stop.remote(job.keep_partial)
                stop_sent = time.monotonic()
            elif stop_sent is not None and time.monotonic() - stop_sent > CANCEL_AFTER:
                ray.kill(trainer)  # stuck outside the training loop, e.g. loading data
                cancelled = True
        with contextlib.suppress(ray.exceptions.RayError):  # the last events, in order, unless the actor died
            self._handle(job, ray.get(pending), on_event)
            self._handle(job, ray.get(trainer.drain.remote()), on_event)
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as err:  # training itself raised: the job fails as a local one would
            raise err.cause from None
        except ray.exceptions.RayError as err:
            if cancelled:
                return None
            if isinstance(err, ray.exceptions.ActorDiedError) and err.actor_init_failed:
                why = str(err).strip().splitlines()[-1]
                raise WorkerLost(f"a Ray worker could not set up this job ({why}): each worker needs "
                                 "requirements-cluster.txt installed, as the README's \"Running for a class\" "
                                 "says") from None
            raise WorkerLost(f"the Ray worker training this model stopped unexpectedly ({type(err).__name__}: its "
                             "process was killed or ran out of memory, or its machine left the cluster); nothing "
                             "was saved. Click Train again.") from None

    def _handle(self, job: Any, events: list[tuple[str, Any]], on_event: Callable[[TrainEvent], None]) -> None:
        for kind, payload in events:
            if kind == "started":
                self._started(job, payload)
            else:
                on_event(payload)

    def _started(self, job: Any, worker: Worker) -> None:
        with self._lock:
            if job.id in self._waiting:
                self._waiting.remove(job.id)
            self._workers[job.id] = worker
        job.started = time.time()  # elapsed counts training, not the wait for a worker
        job.update(state="running", queue_position=0, elapsed=0.0)


class _Quiet:
    """The context `follow_events` reports to: the follower's own context would hold it while the job is paused,
    and the job's snapshot, not the executor's fraction, is what pages read."""

    def publish(self, fraction: float, message: str = "", detail: Any = None) -> None:
        pass


def _result(cfg: RunConfig, out: dict) -> TrainResult:
    """The task's result with its model rebuilt from the safetensors bytes (an untrained one when none came)."""
    model = build_model(cfg.model, out["input_shape"])
    if out["weights"] is not None:
        model.load_state_dict(safetensors.torch.load(out["weights"]), strict=True)
    return TrainResult(cfg, model, **out["result"])

