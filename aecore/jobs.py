"""Background training jobs: `start(cfg)`, `progress(job_id)`, `stop(job_id)`, as `train` work on the one executor.

A job is `units.train_job` in a worker process (`aecore.workers`), followed by a thread of `aecore.background`,
so a Streamlit rerun, a page switch or a browser refresh cannot end it, and any page can rejoin it by id (the
executor's own id for the work). It takes one of the executor's training slots (`AECORE_MAX_JOBS`, default 1),
the same slots the one-class demo takes, so at most that many models train at once whoever started them; the
rest wait, their owners served in turn (`aecore.background`). A job records who started it (`aecore.owners`),
stops at `AECORE_MAX_JOB_MINUTES`, and is refused past `AECORE_MAX_RUNS_PER_OWNER`. What the executor cannot
know, a job's curves, previews and saved run, lives here in a `Progress`; the run is saved here, in the serving
process, from the weights the worker sends.
With `AECORE_RAY_ADDRESS` set, `registry()` trains jobs on a Ray cluster instead (`aecore.cluster`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from . import background, settings, units, workers
from .background import Context, Executor, Outcome, QueueFull
from .config import RunConfig
from .failures import failure_advice
from .memory import trim
from .owners import check_owner
from .store.runs import runs_of, save_run
from .train import TrainEvent, TrainResult
from .workers import Task

__all__ = ["FINISHED", "STATES", "JobRegistry", "Progress", "forgotten", "list_jobs", "pause", "progress", "registry",
           "resume", "start", "stop"]
MAX_CURVE_POINTS = 400  # step losses kept for the live chart
MAX_FORGOTTEN = 100_000  # forgotten job ids remembered (about 10 MB at most)
STATES = ("queued", "running", "paused", "done", "no_better", "stopped", "diverged", "failed")
# no_better and diverged are training's own endings (saved but no better than the average image; blew up)
FINISHED = ("done", "no_better", "stopped", "diverged", "failed")
WORK_STATE = {"no_better": "done", "diverged": "failed"}  # the executor's word for training's own endings


@dataclass(frozen=True)
class Progress:
    """A snapshot of one job in plain values, safe to hand to a page."""

    job_id: str
    state: str  # one of STATES
    config: RunConfig
    queue_position: int = 0  # 1 = next to start; 0 when not queued
    epoch: int = 0
    total_epochs: int = 0
    step: int = 0
    total_steps: int = 0
    images_per_sec: float = 0.0
    elapsed: float = 0.0  # seconds since it started training
    eta_seconds: float | None = None
    loss: float | None = None  # latest training batch loss
    curve: tuple[tuple[int, float], ...] = ()  # (step, batch loss), thinned to MAX_CURVE_POINTS
    epochs: tuple[dict[str, float], ...] = ()  # per-epoch train and validation losses
    originals: np.ndarray | None = None  # (n, H, W) uint8, fixed test images
    recons: tuple[tuple[int, np.ndarray], ...] = ()  # (epoch, (n, H, W) uint8); epoch 0 is the untrained model
    metrics: dict = field(default_factory=dict)
    run_id: str | None = None  # the saved run, when one was saved
    owner: str = ""  # who started it (aecore.owners); "" for a script's job
    parked: bool = False  # paused so long that its training place went to the next in line
    message: str = ""  # why it stopped, diverged or failed, and what to do
    advice: str = ""  # once failed: the cause in plain words and what to do next (aecore.failures)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


class _Job:
    def __init__(self, cfg: RunConfig, keep_partial: bool, owner: str = ""):
        self.cfg, self.keep_partial, self.owner = cfg, keep_partial, check_owner(owner)
        self.id = ""
        self.started = 0.0
        self.ctx: Context | None = None  # the executor's, once it runs
        self.limit = settings.max_job_minutes() * 60  # seconds it may train; 0: no limit
        self.over_time = False
        self.snapshot = Progress("", "queued", cfg, total_epochs=cfg.train.epochs, owner=self.owner)

    def update(self, **changes) -> None:
        self.snapshot = dataclasses.replace(self.snapshot, **changes)  # one reference swap: readers never see half


class JobRegistry:
    """Training jobs on an executor. Pages use the module functions, which share one registry and one executor."""

    def __init__(self, executor: Executor | None = None, root: str | Path | None = None, keep_finished: int = 50,
                 train: Callable[[_Job, Context, str | Path | None], Outcome] | None = None):
        if keep_finished < 0:
            raise ValueError(f"keep_finished must be at least 0, got {keep_finished}")
        self.executor = executor if executor is not None else background.executor()
        self.root, self.keep_finished = root, keep_finished
        self.train = train or _train  # how one job trains: here, or on a cluster (aecore.cluster)
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._forgotten: OrderedDict[str, None] = OrderedDict()  # ids of jobs forgotten, so a link to one says so
        self._lock = threading.Lock()  # taken before the executor's own lock, never inside it

    def start(self, cfg: RunConfig, keep_partial: bool = False, owner: str = "") -> str:
        """Queue a training job and return its id; it starts as soon as a training slot is free. `owner`
        (aecore.owners) goes with the job and its run."""
        if not isinstance(cfg, RunConfig):
            raise TypeError(f"start() needs a RunConfig, got {type(cfg).__name__}")
        job = _Job(cfg, keep_partial, owner)
        with self._lock:  # the work waits on this lock before it starts, so it always sees its id
            self._check_room(job.owner)
            job.id = self.executor.submit(partial(self._work, job), "train", owner=job.owner)  # QueueFull: refused
            job.update(job_id=job.id)
            self._jobs[job.id] = job
            self._forget_old()
        return job.id

    def _check_room(self, owner: str) -> None:  # caller holds the lock
        """QueueFull when the owner's runs, with those its unfinished jobs will save, are at the limit."""
        limit = settings.max_runs_per_owner()
        if not owner or not limit:
            return
        coming = sum(1 for j in self._jobs.values() if j.owner == owner and not self._snapshot(j).finished)
        if runs_of(owner, self.root) + coming >= limit:
            raise QueueFull(f"You keep {limit} models on this shared computer (counting those training now), as many "
                            "as one person may. Delete the ones you no longer need on the Runs page, then train again.")

    def progress(self, job_id: str) -> Progress:
        """The latest snapshot; KeyError for an id this process does not know (e.g. after a restart)."""
        with self._lock:
            return self._snapshot(self._jobs[job_id])

    def stop(self, job_id: str, keep: bool | None = None) -> None:
        """Ask a job to stop within one batch; a queued job is dropped at once. `keep` saves the partial model."""
        with self._lock:
            job = self._jobs[job_id]
            if keep is not None:
                job.keep_partial = keep  # read by train_run once it has stopped, so set before the stop
            self.executor.stop(job_id)
            job.snapshot = self._snapshot(job)  # a job dropped from the queue stays stopped once the executor forgets it

    def pause(self, job_id: str) -> bool:
        """Hold a training job after its current batch, model, optimiser and step count kept; False if not training.

        A paused job keeps its training slot, so queued jobs still wait for it.
        """
        with self._lock:
            self._jobs[job_id]  # KeyError for an unknown job, as everywhere here
            return self.executor.pause(job_id)

    def resume(self, job_id: str) -> bool:
        """Let a paused job train on from the step where it was held; False if it was not paused."""
        with self._lock:
            self._jobs[job_id]
            return self.executor.resume(job_id)

    def jobs(self) -> list[Progress]:
        """Every known job, newest first, read in one go: old jobs are forgotten by other threads meanwhile."""
        with self._lock:
            return [self._snapshot(job) for job in reversed(self._jobs.values())]

    def wait(self, job_id: str, timeout: float | None = None) -> Progress:
        """Block until the job has finished (for scripts and tests); TimeoutError if it has not within `timeout`."""
        try:
            self.executor.wait(job_id, timeout)
        except KeyError:  # the executor forgets only finished work
            pass
        return self.progress(job_id)

    def _snapshot(self, job: _Job) -> Progress:  # caller holds the lock
        """The job's own snapshot, with what only the executor knows: its place in line, and whether it is paused."""
        if job.snapshot.state == "running":
            try:
                work = self.executor.snapshot(job.id)
            except KeyError:
                return job.snapshot
            if work.state == "paused":
                return dataclasses.replace(job.snapshot, state="paused", parked=work.parked)
            if work.state == "queued":  # resumed after giving its place back: waiting for a free one
                return dataclasses.replace(job.snapshot, state="queued", queue_position=work.queue_position)
            return job.snapshot
        if job.snapshot.state != "queued":
            return job.snapshot
        try:
            work = self.executor.snapshot(job.id)
        except KeyError:
            return job.snapshot
        if work.state == "queued":
            return dataclasses.replace(job.snapshot, queue_position=work.queue_position)
        if work.state in ("running", "paused") and job.started:
            return job.snapshot  # running work whose job says queued waits for a cluster's worker
        return dataclasses.replace(job.snapshot, state=work.state, message=work.message or work.error)

    def _forget_old(self) -> None:  # caller holds the lock
        finished = [i for i, j in self._jobs.items() if self._snapshot(j).finished]
        for job_id in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[job_id]
            self._forgotten[job_id] = None
        while len(self._forgotten) > MAX_FORGOTTEN:
            self._forgotten.popitem(last=False)

    def forgotten(self, job_id: str) -> bool:
        """Whether the job finished here and was forgotten since (only the last `keep_finished` are kept), as
        against an id this process never had (a restart, or a made-up link)."""
        with self._lock:
            return job_id in self._forgotten

    def _work(self, job: _Job, ctx: Context) -> Outcome:
        with self._lock:  # start() has given the job its id by the time this lock is free
            job.ctx = ctx
            job.started = time.time()
            job.update(state="running", queue_position=0)
        try:
            return self.train(job, ctx, self.root)
        except Exception as err:  # a failed job must say so, never look finished and good; the executor logs it
            job.update(state="failed", message=f"{type(err).__name__}: {err}", advice=failure_advice(err),
                       elapsed=time.time() - job.started)
            raise
        finally:
            with self._lock:
                self._forget_old()
            trim()  # the finished job's previews and weights, handed over here, go back to the system


def _train(job: _Job, ctx: Context, root: str | Path | None) -> Outcome:
    """One job through the one pipeline in a worker process; its events become the job's snapshot, and the run
    is saved here, where the run store is written."""
    on_event = follow_events(job, ctx)
    out = workers.run(Task(units.train_job, (job.cfg,)), ctx, on_stop=lambda: job.keep_partial,
                      on_report=lambda fraction, message, event: on_event(event))
    return save_result(job, units.train_result(job.cfg, out), root)


def follow_events(job: _Job, ctx: Context) -> Callable[[TrainEvent], None]:
    """The `on_event` that turns a job's training events into its snapshot and the executor's fraction."""
    curve: list[tuple[int, float]] = []

    def on_event(e: TrainEvent) -> None:
        changes: dict = {"elapsed": time.time() - job.started}
        if e.step:  # the start event only brings the strip: the page says "loading" until the first batch
            changes.update(epoch=e.epoch, step=e.step, total_steps=e.total_steps, images_per_sec=e.images_per_sec)
        if e.originals is not None:
            changes["originals"] = e.originals
        if e.preview is not None:
            changes["recons"] = job.snapshot.recons + ((e.epoch, e.preview),)
        if e.epoch_end:
            changes["epochs"] = job.snapshot.epochs + (e.logs,)
        elif e.step:
            curve.append((e.step, e.logs["loss"]))
            if len(curve) > MAX_CURVE_POINTS:
                del curve[1::2]  # keep the shape of the whole run at a bounded size
            changes.update(loss=e.logs["loss"], curve=tuple(curve))
        if e.seconds_left is not None:
            changes["eta_seconds"] = e.seconds_left
        job.update(**changes)
        ctx.publish(job.snapshot.fraction, f"epoch {job.snapshot.epoch} of {job.snapshot.total_epochs}")
        if job.limit and not job.over_time and changes["elapsed"] > job.limit and job.ctx is not None:
            job.over_time = job.keep_partial = True  # stopped at the limit, what it learned is kept
            job.ctx.give_up()

    return on_event


def save_result(job: _Job, result: TrainResult, root: str | Path | None) -> Outcome:
    """Save what a job trained (when it may be kept) and end its snapshot as training ended."""
    history = result.history
    run_id = (save_run(result, root=root, preview_images=result.preview_images, owner=job.owner).id
              if result.savable else None)
    state = {"early_stopped": "done"}.get(history.status, history.status)
    message = history.message
    if state == "diverged":
        message += ". Nothing was saved."
    elif state == "stopped" and job.over_time:
        message = (f"Stopped at the time limit of {job.limit / 60:g} minutes that one model may train on this "
                   f"server; {'what it had learned was saved, marked as stopped' if run_id else 'nothing was saved'}.")
    elif state == "stopped":
        message = "Stopped; the partial model was saved, marked as stopped." if run_id else "Stopped; nothing was saved."
    job.update(state=state, message=message, metrics=result.metrics, run_id=run_id, eta_seconds=0.0,
               elapsed=time.time() - job.started)
    return Outcome(WORK_STATE.get(state, state), run_id, message)  # the job's own snapshot says which


_registry: JobRegistry | None = None
_registry_lock = threading.Lock()


def registry() -> JobRegistry:
    """The process-wide registry on the process-wide executor, made on first use."""
    global _registry
    with _registry_lock:
        if _registry is None and settings.ray_address():
            _registry = ray_registry()
        elif _registry is None:
            _registry = JobRegistry(executor=background.executor())
        return _registry


def ray_registry(root: str | Path | None = None, address: str | None = None) -> JobRegistry:
    """A job registry whose jobs train on Ray at `address` (default `AECORE_RAY_ADDRESS`)."""
    from .cluster import IN_FLIGHT, RayBackend, RayTraining  # optional: Ray is imported only for a cluster

    backend = RayBackend(address or settings.ray_address() or "local", settings.ray_cpus(), settings.ray_gpus())
    training = RayTraining(backend, follow_events, save_result)
    return JobRegistry(executor=Executor({"train": IN_FLIGHT, "compute": 1}), root=root, train=training)


def map_runner() -> Callable[..., Any] | None:
    """Where a map runs: on the cluster's workers with `AECORE_RAY_ADDRESS` set, else None (this server's pool).

    Only maps go: a map's unit carries its codes, while scoring, errors, mixtures and the one-class demo read this
    server's run store and datasets, which a cluster's machines do not have."""
    if not on_cluster():
        return None
    from .cluster import map_backend  # optional: Ray is imported only for a cluster

    return map_backend(settings.ray_address()).run


def on_cluster() -> bool:
    """Whether training jobs go to a Ray cluster (`AECORE_RAY_ADDRESS` set), so pages can say "worker"."""
    return settings.ray_address() is not None


def start(cfg: RunConfig, keep_partial: bool = False, owner: str = "") -> str:
    """Queue a training job in the process-wide registry; returns its id."""
    return registry().start(cfg, keep_partial, owner)


def progress(job_id: str) -> Progress:
    return registry().progress(job_id)


def stop(job_id: str, keep: bool | None = None) -> None:
    registry().stop(job_id, keep)


def pause(job_id: str) -> bool:
    return registry().pause(job_id)


def resume(job_id: str) -> bool:
    return registry().resume(job_id)


def list_jobs() -> list[Progress]:
    return registry().jobs()


def forgotten(job_id: str) -> bool:
    return registry().forgotten(job_id)
