"""Local worker processes: heavy work runs here, never in the process that serves the pages.

A unit of work is a module-level function `fn(*args, ctx)` with plain, picklable arguments; it reports with
`ctx.report(fraction, message, detail)` and hears a stop through `ctx.should_stop()` (which waits while the
work is paused), exactly as work on the executor does: one callback style wherever the work runs. `run(task,
ctx)` is called in an executor thread of the serving process: it lends the task to an idle worker of the
pool, passes its progress on to the executor's `ctx`, passes Stop, Pause and Resume the other way, and
returns the unit's result or raises its exception. The pool holds up to `AECORE_MAX_JOBS` +
`AECORE_MAX_COMPUTE` processes, started with the `spawn` context (torch and fork do not mix), each of which
imports torch and the map libraries once and keeps numba's compiled code on disk, so a fresh server does not
compile again. A worker that dies (killed, out of memory, a crash in native code) fails only its own task,
with a sentence that says so, and is replaced; a stopped task that does not end by itself within
`CANCEL_AFTER` seconds (a map in the middle of a native call) is ended with its worker.
Why processes: the server process trained at 0.22x the command line's speed while its pages were drawn
beside it, and a UMAP in it stalled every visitor's page for seconds (one GIL and one thread pool for all).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import background, settings
from .background import Context, Stopped
from .memory import trim

log = logging.getLogger(__name__)
PARKED_CHECK = 0.5  # seconds between looks, while every worker is lent, for one whose task gave its slot back
CANCEL_AFTER = 20.0  # seconds a stopped task has to end by itself (training checks every batch) before it is killed
FLUSH_SECONDS = 0.05  # a worker's reports go over at most this often (and before each training batch)
POLL_SECONDS = 0.02  # how often a follower looks for a stop, a pause or a dead worker: a stop reaches a batch soon
WORKER_NICE = 5  # a worker's priority below the server's, which then answers at once beside heavy work
READY_SECONDS = 120.0  # a new worker's imports, on a busy machine
SIGNALS = {signal.SIGKILL: "it was killed (by the system when memory ran out, or by another program)",
           signal.SIGSEGV: "it crashed inside a native library (a segmentation fault)",
           signal.SIGABRT: "it aborted inside a native library", signal.SIGTERM: "it was asked to end"}


_main_lock = threading.Lock()


class WorkerLost(RuntimeError):
    """The worker process running a task died before the task ended."""


@dataclass(frozen=True)
class Task:
    """What runs in a worker: `fn(*args, ctx)`, with the asking process's settings (`AECORE_*`) at the time."""

    fn: Callable[..., Any]
    args: tuple = ()
    env: dict[str, str] = field(default_factory=settings.current)


class _Worker:
    """The serving side of one worker process: its process, its two pipes, and whether its imports are done."""

    def __init__(self, mp: Any):
        self.tasks, remote_tasks = mp.Pipe()  # to the worker: tasks and stop/pause/resume
        remote_events, self.events = mp.Pipe()  # from the worker: ready, progress, the end
        self.process = mp.Process(target=_serve, args=(remote_tasks, remote_events), name="aecore-worker",
                                  daemon=True)
        _start_without_main(self.process)
        remote_tasks.close()
        remote_events.close()
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.events.poll(READY_SECONDS):
            raise WorkerLost(f"a worker process did not start within {READY_SECONDS:.0f} s")
        try:
            kind, *_ = self.events.recv()
        except (EOFError, OSError):
            raise WorkerLost(f"a worker process ended as it started: {self.why()}") from None
        self.ready = kind == "ready"

    def why(self) -> str:
        self.process.join(1.0)
        code = self.process.exitcode
        if code is None:
            return "it stopped answering"
        if code < 0:
            return SIGNALS.get(-code, f"it was ended by signal {-code}")
        return f"it exited with code {code}"

    def end(self, at_once: bool = False) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.tasks.send(("exit",))
        self.process.join(0.0 if at_once else 2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2.0)
        for conn in (self.tasks, self.events):
            conn.close()


def _start_without_main(process: Any) -> None:
    """Start a spawned process that does not import the asking process's main module: Streamlit runs each page
    as `__main__`, and `spawn` would run it again in the worker (a page, in a process with no server)."""
    with _main_lock:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # no file, no spec: nothing for spawn to import
        try:
            process.start()
        finally:
            if main is not None:
                sys.modules["__main__"] = main


class WorkerPool:
    """Worker processes lent to one task at a time; at most `size` alive at once."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"a worker pool needs at least 1 process, got {size}")
        self.size = size
        self._mp = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._lent: dict[int, Any] = {}  # id(worker) -> the executor context of the task it runs
        self._count = 0  # alive workers, lent or idle
        self._changed = threading.Condition()
        self._closed = False

    def warm(self) -> None:
        """Start the missing workers now, without waiting for their imports: the first task finds one ready."""
        with self._changed:
            while not self._closed and self._count < self.size:
                self._idle.append(self._new())

    def run(self, task: Task, ctx: Any, on_stop: Callable[[], Any] = lambda: None,
            cancel_after: float = CANCEL_AFTER, on_report: Callable[[float, str, Any], None] | None = None) -> Any:
        """Run `task` in a worker, following `ctx` (the executor's): each report goes to `on_report` (default
        `ctx.publish`), `on_stop()` goes to the unit with a stop, and a unit still running `cancel_after` seconds
        after a stop is ended with its worker."""
        worker = self._borrow()
        with self._changed:
            self._lent[id(worker)] = ctx
        ended = False  # the worker sent the task's end: it is free for the next task, whatever the end was
        try:
            worker.wait_ready()
            worker.tasks.send(("task", task))
            kind, value = self._follow(worker, ctx, on_stop, cancel_after, on_report or ctx.publish)
            ended = True
        finally:
            self._give_back(worker, ended)
        if kind == "stopped":
            raise Stopped()
        if kind == "error":
            raise value  # the unit's own exception, as itself: a failed task never costs its worker
        return value

    def pids(self) -> list[int]:
        """The process ids of the workers waiting for a task now."""
        with self._changed:
            return [w.process.pid for w in self._idle]

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for worker in idle:
            worker.end()

    def _follow(self, worker: _Worker, ctx: Any, on_stop: Callable[[], Any], cancel_after: float,
                on_report: Callable[[float, str, Any], None]) -> Any:
        paused, stop_sent = False, None
        while True:
            if worker.events.poll(POLL_SECONDS):
                try:
                    kind, *payload = worker.events.recv()
                except (EOFError, OSError):
                    raise WorkerLost(f"the worker process doing this ended unexpectedly: {worker.why()}") from None
                if kind == "progress":
                    for report in payload[0]:
                        on_report(*report)
                elif kind in ("result", "error"):
                    return kind, payload[0]
                elif kind == "stopped":
                    return kind, None
            if not worker.process.is_alive():
                raise WorkerLost(f"the worker process doing this ended unexpectedly: {worker.why()}")
            if stop_sent is None and ctx.unwatched():
                ctx.give_up()  # the page moved on or closed: nothing is computed for nobody
            if stop_sent is None and ctx.stop_asked():
                worker.tasks.send(("stop", on_stop()))
                stop_sent = time.monotonic()
            elif stop_sent is None and ctx.paused() != paused:
                paused = not paused
                worker.tasks.send(("pause",) if paused else ("resume",))
            elif stop_sent is not None and time.monotonic() - stop_sent > cancel_after:
                worker.process.kill()  # stuck in a native call that never asks: the worker goes, the pool replaces it
                worker.process.join(5.0)
                return "stopped", None

    def _borrow(self) -> _Worker:
        with self._changed:
            while True:
                if self._closed:
                    raise WorkerLost("the worker pool has been closed: the server is shutting down")
                alive = [w for w in self._idle if w.process.is_alive()]
                self._count -= len(self._idle) - len(alive)
                self._idle = alive
                if self._idle:
                    return self._idle.pop()  # the one used last: its caches (a compiled map, a dataset) are warm
                if self._count < self.size + self._parked():
                    return self._new()
                self._changed.wait(PARKED_CHECK)

    def _new(self) -> _Worker:  # caller holds the condition
        worker = _Worker(self._mp)
        self._count += 1
        return worker

    def _parked(self) -> int:  # caller holds the condition
        """Lent workers whose paused task gave its slot back (aecore.background's pause hold): the pool lends that
        many beyond its size, so the task that took the slot gets a worker of its own."""
        return sum(1 for ctx in self._lent.values() if getattr(ctx, "parked", lambda: False)())

    def _give_back(self, worker: _Worker, ended: bool) -> None:
        with self._changed:
            self._lent.pop(id(worker), None)
            if ended and self._count > self.size + self._parked():  # lent beyond the size: retired now
                self._count -= 1
            elif ended and not self._closed and worker.process.is_alive():
                self._idle.append(worker)
                worker = None
            else:
                self._count -= 1
                if not self._closed and self._count < self.size:
                    self._idle.append(self._new())  # the replacement starts its imports now, not when next asked
            self._changed.notify_all()
        if worker is not None:
            worker.end(at_once=True)  # a worker that failed its task is never lent again


class _WorkerContext:
    """The worker's side of a task: `report` and `should_stop`, as the executor's `Context`. The serving side's
    stop, pause and resume are read from the task pipe at each `should_stop` (a syscall of a few microseconds,
    once per training batch), so no thread listens beside the work."""

    def __init__(self, tasks: Any, events: Any):
        self._tasks, self._events = tasks, events
        self._pending: list[tuple[float, str, Any]] = []  # reports not yet sent
        self._sent = 0.0  # when reports were last sent
        self._stop = False
        self.stop_note: Any = None  # what the serving side sent with its stop (a training job: keep the model)

    def should_stop(self) -> bool:
        self.flush()
        paused = False
        while not self._stop and (paused or self._tasks.poll()):
            try:
                kind, *payload = self._tasks.recv()  # while paused, this waits for the resume or the stop
            except (EOFError, OSError):
                os._exit(0)  # the server is gone: so is its worker
            if kind == "stop":
                self._stop, self.stop_note = True, payload[0]
            elif kind in ("pause", "resume"):
                paused = kind == "pause"
            elif kind == "exit":
                os._exit(0)
        return self._stop

    def report(self, fraction: float, message: str = "", detail: Any = None) -> None:
        if self.should_stop():
            raise Stopped()
        self.publish(fraction, message, detail)

    def publish(self, fraction: float, message: str = "", detail: Any = None) -> None:
        """Queue a report; reports go over together, every FLUSH_SECONDS and before each batch: a training
        burst reports every step it read back at once, and one message per step cost the serving side."""
        self._pending.append((fraction, message, detail))
        if time.monotonic() - self._sent >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._events.send(("progress", self._pending))
            self._pending = []
            self._sent = time.monotonic()


def _serve(tasks: Any, events: Any) -> None:
    """A worker process's life: import once, then run tasks one at a time until told to exit or the server goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the server's terminal is the server's to handle
    if hasattr(os, "nice"):  # before torch starts its threads, which take their priority from this one
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICE)
    settings.keep_numba_cache()
    settings.adopt(settings.current())  # a worker has no use for the teacher's password, inherited at its start
    from . import units  # torch, the models and the map libraries, once per worker

    units.warm()
    events.send(("ready", os.getpid()))
    while True:
        try:
            kind, *payload = tasks.recv()
        except (EOFError, OSError):
            break
        if kind == "exit":
            break
        if kind == "task":
            ctx = _WorkerContext(tasks, events)
            end = _outcome(payload[0], ctx)
            ctx.flush()  # every report before the end
            events.send(end)
            trim()  # the task's activations and batches go back to the system while the worker waits
        # a stop, pause or resume that came after its task ended asks nothing more
    os._exit(0)


def _outcome(task: Task, ctx: _WorkerContext) -> tuple:
    """The end message of one task: its result, a stop, or its exception (as itself when it can travel)."""
    settings.adopt(task.env)
    try:
        return ("result", task.fn(*task.args, ctx))
    except Stopped:
        return ("stopped",)
    except Exception as err:  # noqa: BLE001  failed work must say so, as itself, never end its worker
        log.error("work in a worker failed:\n%s", traceback.format_exc())
        try:
            pickle.loads(pickle.dumps(err))
            return ("error", err)
        except Exception:  # noqa: BLE001  an exception that cannot travel goes as its words
            return ("error", RuntimeError(f"{type(err).__name__}: {err}"))


Runner = Callable[..., Any]  # `run(task, ctx, on_stop=..., cancel_after=..., on_report=...)`, as `WorkerPool.run`

_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def pool() -> WorkerPool:
    """The process-wide pool, sized by the executor's slots, made on first use."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool(settings.max_jobs() + settings.max_compute())
            atexit.register(_pool.close)
        return _pool


def submit(fn: Callable[..., Any], *args: Any, kind: str = "compute", key: Any = None,
           cancel_after: float = CANCEL_AFTER, on_start: Callable[[], None] = lambda: None,
           drop_after: float | None = None, owner: str = "", group: Any = None, runner: Runner | None = None) -> str:
    """Queue the unit `fn(*args, ctx)` on the process-wide executor, to run in a worker; returns the work's id
    (a shared one under `key`). `on_start()` is called here as the work leaves the queue (to count it);
    `drop_after` drops or stops it once nobody has asked about it for that many seconds; `owner` and `group`
    take turns and make room as `aecore.background.Executor.submit` says. `runner` runs it elsewhere
    (`aecore.cluster.RayBackend.run`) instead of in this server's pool."""
    task = Task(fn, args)

    def work(ctx: Context) -> Any:
        on_start()
        return (runner or run)(task, ctx, cancel_after=cancel_after)

    return background.submit(work, kind, key, drop_after, owner, group)


def run(task: Task, ctx: Any, on_stop: Callable[[], Any] = lambda: None, cancel_after: float = CANCEL_AFTER,
        on_report: Callable[[float, str, Any], None] | None = None) -> Any:
    """Run `task` in the process-wide pool."""
    return pool().run(task, ctx, on_stop, cancel_after, on_report)
