"""Background tasks for work a page must not do inside its script run: `submit(fn, ...)`, then poll `status(id)`.

A task is any function that takes `on_progress(fraction, message)` and `should_stop()` as keyword
arguments (as `aecore.anomaly.one_class_demo` does). It runs in a worker thread owned by a process-wide
registry, so a Streamlit rerun, a page switch or a closed tab cannot end it, and any page can read it back
by id. A task submitted with a `key` is shared: submitting the same key again returns the task already
running or finished (not a failed or cancelled one), which makes finished results a cache. At most
`max_concurrent` tasks run at once; the registry forgets the oldest finished tasks beyond `keep_finished`.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)
STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")


class Cancelled(Exception):
    """Raised inside a task by `on_progress` once the task has been asked to stop."""


@dataclass(frozen=True)
class TaskStatus:
    """A snapshot of one task in plain values; `result` is whatever the function returned."""

    task_id: str
    state: str  # one of STATES
    fraction: float = 0.0  # 0..1, as last reported
    message: str = ""  # the task's own word on what it is doing
    result: Any = None  # set once done
    error: str = ""  # "ExceptionType: message" once failed
    started: float = 0.0  # time.time() of submission
    elapsed: float = 0.0  # seconds since submission, or until it finished

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class _Task:
    def __init__(self, task_id: str, key: Hashable | None):
        self.id, self.key = task_id, key
        self.stop = threading.Event()
        self.snapshot = TaskStatus(task_id, "queued", started=time.time())

    def update(self, **changes: Any) -> None:
        if "elapsed" not in changes:
            changes["elapsed"] = time.time() - self.snapshot.started
        self.snapshot = dataclasses.replace(self.snapshot, **changes)  # one reference swap: readers never see half


class TaskRegistry:
    """Owns the worker threads. Pages use the module functions, which share one registry."""

    def __init__(self, max_concurrent: int = 1, keep_finished: int = 32):
        if max_concurrent < 1 or keep_finished < 0:
            raise ValueError(f"max_concurrent must be at least 1 and keep_finished at least 0, "
                             f"got {max_concurrent} and {keep_finished}")
        self.keep_finished = keep_finished
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._tasks: OrderedDict[str, _Task] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any, key: Hashable | None = None, **kwargs: Any) -> str:
        """Start `fn(*args, **kwargs, on_progress=..., should_stop=...)` in a worker thread; returns the task id."""
        with self._lock:
            if key is not None:
                existing = self._find(key)
                if existing is not None:
                    return existing
            task = _Task(secrets.token_hex(6), key)
            self._tasks[task.id] = task
            self._forget_old()
        thread = threading.Thread(target=self._work, args=(task, fn, args, kwargs), name=f"aecore-task-{task.id}",
                                  daemon=True)
        thread.start()
        return task.id

    def status(self, task_id: str) -> TaskStatus:
        """The latest snapshot; KeyError for an id this process does not know (forgotten, or before a restart)."""
        with self._lock:
            return self._tasks[task_id].snapshot

    def find(self, key: Hashable) -> str | None:
        """The id of the queued, running or finished-well task submitted with `key`, if there is one."""
        with self._lock:
            return self._find(key)

    def cancel(self, task_id: str) -> None:
        """Ask a task to stop: a queued one never starts, a running one stops at its next progress report."""
        with self._lock:
            self._tasks[task_id].stop.set()

    def wait(self, task_id: str, timeout: float | None = None) -> TaskStatus:
        """Block until the task has finished (for scripts and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (snapshot := self.status(task_id)).finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} still {snapshot.state} after {timeout} s")
            time.sleep(0.02)
        return snapshot

    def _find(self, key: Hashable) -> str | None:  # caller holds the lock
        for task in reversed(self._tasks.values()):
            if task.key == key and task.snapshot.state in ("queued", "running", "done"):
                return task.id
        return None

    def _forget_old(self) -> None:  # caller holds the lock
        finished = [i for i, t in self._tasks.items() if t.snapshot.finished]
        for task_id in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._tasks[task_id]

    def _work(self, task: _Task, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        def on_progress(fraction: float, message: str = "") -> None:
            if task.stop.is_set():
                raise Cancelled()
            task.update(fraction=min(1.0, max(0.0, float(fraction))), message=message)

        with self._slots:
            if task.stop.is_set():
                task.update(state="cancelled", message="cancelled before it started")
                return
            task.update(state="running")
            try:
                result = fn(*args, **kwargs, on_progress=on_progress, should_stop=task.stop.is_set)
            except Cancelled:
                task.update(state="cancelled", message="cancelled")
            except Exception as err:  # a failed task must say so, never look finished and good
                log.error("task %s failed:\n%s", task.id, traceback.format_exc())
                task.update(state="failed", error=f"{type(err).__name__}: {err}")
            else:
                if task.stop.is_set():
                    task.update(state="cancelled", message="cancelled")
                else:
                    task.update(state="done", fraction=1.0, result=result)
        with self._lock:
            self._forget_old()


_registry: TaskRegistry | None = None
_registry_lock = threading.Lock()


def registry() -> TaskRegistry:
    """The process-wide registry, made on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = TaskRegistry()
        return _registry


def submit(fn: Callable[..., Any], *args: Any, key: Hashable | None = None, **kwargs: Any) -> str:
    """Run `fn` in the background in the process-wide registry; returns the task id (a shared one for `key`)."""
    return registry().submit(fn, *args, key=key, **kwargs)


def status(task_id: str) -> TaskStatus:
    """The task's latest snapshot; KeyError once it is forgotten."""
    return registry().status(task_id)


def find(key: Hashable) -> str | None:
    """The queued, running or done task submitted with `key`, if any."""
    return registry().find(key)


def cancel(task_id: str) -> None:
    """Ask the task to stop at its next progress report."""
    registry().cancel(task_id)
