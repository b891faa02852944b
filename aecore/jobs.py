"""Background training jobs: `start(cfg)`, `progress(job_id)`, `stop(job_id)`, owned by one registry per process.

Training runs in worker threads that belong to the registry, not to whoever asked for it, so a
Streamlit rerun, a page switch or a browser refresh cannot end a job; any page can rejoin it by id.
At most `max_concurrent` jobs train at once (`AECORE_MAX_JOBS`, default 1: on a small machine two
jobs only halve each other's speed); the rest wait in a queue, first come first served.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import RunConfig
from .device import pick_device, set_threads
from .memory import trim
from .settings import env_int
from .train import TrainEvent, train_run

log = logging.getLogger(__name__)
STATES = ("queued", "running", "done", "no_better", "stopped", "diverged", "failed")
# no_better: trained to the end and saved, but it draws the test images no better than the average image
FINISHED = ("done", "no_better", "stopped", "diverged", "failed")
MAX_CURVE_POINTS = 400  # step losses kept for the live chart


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
    elapsed: float = 0.0
    eta_seconds: float | None = None
    loss: float | None = None  # latest training batch loss
    curve: tuple[tuple[int, float], ...] = ()  # (step, batch loss), thinned to MAX_CURVE_POINTS
    epochs: tuple[dict[str, float], ...] = ()  # per-epoch train and validation losses
    originals: np.ndarray | None = None  # (n, H, W) uint8, fixed test images
    recons: tuple[tuple[int, np.ndarray], ...] = ()  # (epoch, (n, H, W) uint8); epoch 0 is the untrained model
    metrics: dict = field(default_factory=dict)
    run_id: str | None = None  # the saved run, when one was saved
    message: str = ""  # why it stopped, diverged or failed, and what to do

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def fraction(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0


class _Job:
    def __init__(self, job_id: str, cfg: RunConfig, keep_partial: bool):
        self.id, self.cfg, self.keep_partial = job_id, cfg, keep_partial
        self.stop_requested = threading.Event()
        self.started = time.time()
        self.snapshot = Progress(job_id, "queued", cfg, total_epochs=cfg.train.epochs)

    def update(self, **changes) -> None:
        self.snapshot = dataclasses.replace(self.snapshot, **changes)  # one reference swap: readers never see half


class JobRegistry:
    """Owns the worker threads and the queue. Pages use the module functions, which share one registry."""

    def __init__(self, max_concurrent: int = 1, root: str | Path | None = None, keep_finished: int = 50):
        if max_concurrent < 1 or keep_finished < 0:
            raise ValueError(f"max_concurrent must be at least 1 and keep_finished at least 0, "
                             f"got {max_concurrent} and {keep_finished}")
        self.max_concurrent, self.root, self.keep_finished = max_concurrent, root, keep_finished
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._queue: list[str] = []
        self._running: set[str] = set()
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, cfg: RunConfig, keep_partial: bool = False) -> str:
        """Queue a training job and return its id; it starts as soon as a slot is free."""
        if not isinstance(cfg, RunConfig):
            raise TypeError(f"start() needs a RunConfig, got {type(cfg).__name__}")
        job = _Job(secrets.token_hex(6), cfg, keep_partial)
        with self._lock:
            self._jobs[job.id] = job
            self._queue.append(job.id)
            self._forget_old()
            self._dispatch()
        return job.id

    def progress(self, job_id: str) -> Progress:
        """The latest snapshot; KeyError for an id this process does not know (e.g. after a restart)."""
        with self._lock:
            return self._snapshot(self._jobs[job_id])

    def stop(self, job_id: str, keep: bool | None = None) -> None:
        """Ask a job to stop within one batch; a queued job is dropped at once. `keep` saves the partial model."""
        with self._lock:
            job = self._jobs[job_id]
            if keep is not None:
                job.keep_partial = keep
            job.stop_requested.set()
            if job_id in self._queue:
                self._queue.remove(job_id)
                job.update(state="stopped", message="stopped before it started")

    def jobs(self) -> list[Progress]:
        """Every known job, newest first, read in one go: old jobs are forgotten by other threads meanwhile."""
        with self._lock:
            return [self._snapshot(job) for job in reversed(self._jobs.values())]

    def wait(self, job_id: str, timeout: float | None = None) -> Progress:
        """Block until the job has finished and its thread has ended (for scripts and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            thread = self._threads.get(job_id)
        while not self.progress(job_id).finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {self.progress(job_id).state} after {timeout} s")
            with self._lock:
                thread = self._threads.get(job_id, thread)
            time.sleep(0.02)
        if thread is not None:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return self.progress(job_id)

    def active_threads(self) -> int:
        with self._lock:
            return sum(t.is_alive() for t in self._threads.values())

    def _snapshot(self, job: _Job) -> Progress:  # caller holds the lock
        if job.id in self._queue:
            return dataclasses.replace(job.snapshot, queue_position=self._queue.index(job.id) + 1)
        return job.snapshot

    def _dispatch(self) -> None:  # caller holds the lock
        while self._queue and len(self._running) < self.max_concurrent:
            job = self._jobs[self._queue.pop(0)]
            self._running.add(job.id)
            job.update(state="running", queue_position=0)
            thread = threading.Thread(target=self._work, args=(job,), name=f"aecore-job-{job.id}", daemon=True)
            self._threads[job.id] = thread
            thread.start()

    def _forget_old(self) -> None:  # caller holds the lock
        finished = [i for i, j in self._jobs.items() if j.snapshot.finished]
        for job_id in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[job_id]
            self._threads.pop(job_id, None)

    def _work(self, job: _Job) -> None:
        try:
            _train(job, self.root)
        except Exception as err:  # a failed job must say so, never look finished and good
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            job.update(state="failed", message=f"{type(err).__name__}: {err}")
        finally:
            with self._lock:
                self._running.discard(job.id)
                self._threads.pop(job.id, None)
                self._forget_old()
                self._dispatch()
            trim()  # the finished job's activations and batches go back to the system, not to this thread's arena


def _train(job: _Job, root: str | Path | None) -> None:
    """One job through the one pipeline; its events become the job's snapshot."""
    from .runs import save_run

    set_threads()
    curve: list[tuple[int, float]] = []
    batch_size = job.cfg.train.batch_size

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
            steps_per_sec = e.images_per_sec / max(1, batch_size)
            eta = (e.total_steps - e.step) / steps_per_sec if steps_per_sec > 0 else None
            changes.update(loss=e.logs["loss"], curve=tuple(curve), eta_seconds=eta)
        job.update(**changes)

    result = train_run(job.cfg, pick_device(), on_event, job.stop_requested.is_set, previews=True,
                       keep_partial=lambda: job.keep_partial)
    history = result.history
    run_id = save_run(result, root=root, preview_images=result.preview_images).id if result.savable else None
    state = {"early_stopped": "done"}.get(history.status, history.status)
    message = history.message
    if state == "diverged":
        message += ". Nothing was saved."
    elif state == "stopped":
        message = "Stopped; the partial model was saved, marked as stopped." if run_id else "Stopped; nothing was saved."
    job.update(state=state, message=message, metrics=result.metrics, run_id=run_id, eta_seconds=0.0,
               elapsed=time.time() - job.started)


_registry: JobRegistry | None = None
_registry_lock = threading.Lock()


def registry() -> JobRegistry:
    """The process-wide registry, made on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = JobRegistry(max_concurrent=env_int("AECORE_MAX_JOBS", 1, 1, 256))
        return _registry


def start(cfg: RunConfig, keep_partial: bool = False) -> str:
    """Queue a training job in the process-wide registry; returns its id."""
    return registry().start(cfg, keep_partial)


def progress(job_id: str) -> Progress:
    return registry().progress(job_id)


def stop(job_id: str, keep: bool | None = None) -> None:
    registry().stop(job_id, keep)


def list_jobs() -> list[Progress]:
    return registry().jobs()
