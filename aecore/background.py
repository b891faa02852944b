"""The one executor for all long work: `submit(fn, kind, key)` returns an id; `snapshot(id)`, `stop(id)`, `wait(id)`.

Work is a function of one argument, a `Context`: it reports progress with `ctx.report(fraction, message)`
and asks `ctx.should_stop()` (or lets `report` raise `Stopped`) to end early. It runs in a thread that
belongs to the executor, never to whoever asked, so a Streamlit rerun, a page switch or a closed tab cannot
end it, and any page or session can read it back by id. Each kind of work has slots: at most that many of
its kind run at once across the whole process (`train`: `AECORE_MAX_JOBS`, `compute`: `AECORE_MAX_COMPUTE`,
default 1 each, since on a small machine two at once only halve each other's speed); the rest wait in line,
served owner by owner in turn (a browser on a shared server is an owner, aecore.owners), so one person's
five jobs do not stand before everyone else's first, and an owner may have at most `per_owner` jobs at once.
Work submitted with a `key` is shared: while it is queued, running or done, the same key returns the same id,
so two sessions asking for one map share one computation and a finished result doubles as a cache until it
is forgotten (the oldest finished entries beyond `keep_finished`).
`pause(id)` holds running work at its next `should_stop` (it keeps its thread, its slot and everything it
has built, such as a model and its optimiser) until `resume(id)` or `stop(id)`. Work submitted with
`drop_after` that nobody asks about for that long is dropped from the line, or hears `ctx.unwatched()`.
Heavy work is not run here: its thread only follows a unit of work in a worker process (`aecore.workers`) or
on Ray (`aecore.cluster`), the two backends behind one call, `run(task, ctx, ...)`; this module stays generic,
plain values in and frozen snapshots out, and training's own endings live with training jobs.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import secrets
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from . import settings

log = logging.getLogger(__name__)
KINDS = ("train", "compute")
STATES = ("queued", "running", "paused", "done", "stopped", "failed")
FINISHED = ("done", "stopped", "failed")
SHARED = ("queued", "running", "paused", "done")  # a key joins work in these states; failed or stopped work is tried anew


UNWATCHED = "nobody was waiting for it any more"
REPLACED = "a newer request from the same visitor took its place in line"


class QueueFull(Exception):
    """An owner already has as much of a kind of work waiting or running as one owner may; says so in words."""


class Stopped(Exception):
    """Raised by `Context.report` once the work has been asked to stop."""


@dataclass(frozen=True)
class Outcome:
    """What work returns to end in a finished state other than done (a download that failed), with why."""

    state: str
    result: Any = None
    message: str = ""

    def __post_init__(self):
        if self.state not in FINISHED:
            raise ValueError(f"an outcome's state must be one of {', '.join(FINISHED)}, got {self.state!r}")


@dataclass(frozen=True)
class Snapshot:
    """One piece of work in plain values, safe to hand to a page."""

    id: str
    kind: str  # one of KINDS
    state: str  # one of STATES
    fraction: float = 0.0  # 0..1, as last reported
    message: str = ""  # the work's own word on what it is doing, or why it ended as it did
    result: Any = None  # what the function returned, once finished
    error: str = ""  # "ExceptionType: message" once failed
    elapsed: float = 0.0  # seconds since it started running (0 while queued), or until it finished
    queue_position: int = 0  # 1 = next of its kind to start; 0 when not queued
    detail: Any = None  # richer progress, as last reported (a training job's curves and previews)
    parked: bool = False  # paused past the pause hold: its slot went to the next in line (queued again once resumed)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED


class Context:
    """What the work gets: a way to report progress and to hear that it should stop."""

    def __init__(self, entry: _Entry):
        self._entry = entry

    def should_stop(self) -> bool:
        """Whether a stop was asked; while the work is paused this waits, so the work holds all it has built."""
        self._entry.resumed.wait()
        return self._entry.stop.is_set()

    def stop_asked(self) -> bool:
        """Whether a stop was asked, without waiting out a pause: for work that follows work running elsewhere."""
        return self._entry.stop.is_set()

    def paused(self) -> bool:
        return not self._entry.resumed.is_set()

    def parked(self) -> bool:
        """Whether the work, paused, has given its slot back: what it holds (a worker process) is held beyond
        the slots until it runs again."""
        return self._entry.parked

    def unwatched(self) -> bool:
        """Whether nobody has asked about this work for its `drop_after` seconds (the page moved on, the tab
        closed): work that follows work elsewhere then stops it, so nothing is computed for nobody."""
        return self._entry.unwatched()

    def give_up(self) -> None:
        """Stop the work from inside (nobody watches it, or it ran out of time): it ends as stopped."""
        self._entry.stop.set()
        self._entry.resumed.set()

    def report(self, fraction: float, message: str = "", detail: Any = None) -> None:
        """Publish progress; raises Stopped once a stop was asked, so work that only reports still ends."""
        if self.should_stop():
            raise Stopped()
        self.publish(fraction, message, detail)

    def publish(self, fraction: float, message: str = "", detail: Any = None) -> None:
        """Publish progress without a word on stopping: for work that follows work running elsewhere."""
        changes: dict = {"fraction": min(1.0, max(0.0, float(fraction))), "message": message}
        if detail is not None:
            changes["detail"] = detail
        self._entry.update(**changes)


class _Entry:
    def __init__(self, entry_id: str, kind: str, key: Hashable | None, fn: Callable[[Context], Any],
                 drop_after: float | None = None, owner: str = ""):
        self.id, self.kind, self.key, self.fn, self.owner = entry_id, kind, key, fn, owner
        self.askers = {owner}  # every owner that asked for it: a shared map is theirs too
        self.group: Hashable | None = None
        self.paused_at = 0.0
        self.parked = False  # paused past the hold, holding no slot; in the queue again once resumed
        self.drop_after = drop_after  # seconds nobody asks about it before it is dropped; None: never
        self.seen = time.monotonic()  # when someone last asked about it
        self.stop = threading.Event()
        self.resumed = threading.Event()  # cleared while paused
        self.resumed.set()
        self._mutex = threading.Lock()  # the worker's progress and a pause from a page update one snapshot
        self.done: Future[Snapshot] = Future()
        self.started = 0.0
        self.snapshot = Snapshot(entry_id, kind, "queued")

    def unwatched(self) -> bool:
        return self.drop_after is not None and time.monotonic() - self.seen > self.drop_after

    def update(self, **changes: Any) -> None:
        if self.started and "elapsed" not in changes:
            changes["elapsed"] = time.monotonic() - self.started
        with self._mutex:
            self.snapshot = dataclasses.replace(self.snapshot, **changes)  # one reference swap: readers never see half


class Executor:
    """Owns the worker threads and one queue per kind of work."""

    def __init__(self, slots: Mapping[str, int], keep_finished: int = 64, per_owner: int | None = None,
                 pause_hold: float | None = None):
        unknown = set(slots) - set(KINDS)
        if unknown or any(n < 1 for n in slots.values()) or keep_finished < 0 or (per_owner or 1) < 1:
            raise ValueError(f"slots must give each of {', '.join(KINDS)} at least 1, keep_finished must be at least 0 "
                             f"and per_owner at least 1, got {dict(slots)}, {keep_finished} and {per_owner}")
        self.slots = {kind: int(slots.get(kind, 1)) for kind in KINDS}
        self.keep_finished = keep_finished
        self.per_owner = per_owner  # training jobs an owner may have waiting or running; None: no bound
        self.pause_hold = pause_hold  # seconds paused work keeps its slot; None: for as long as it is paused
        self._turns: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}  # owner -> the turn it was last served
        self._turn = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._queues: dict[str, deque[str]] = {kind: deque() for kind in KINDS}
        self._running: dict[str, set[str]] = {kind: set() for kind in KINDS}
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[Context], Any], kind: str = "compute", key: Hashable | None = None,
               drop_after: float | None = None, owner: str = "", group: Hashable | None = None) -> str:
        """Queue `fn(ctx)` as work of `kind`; returns its id, or the id of the shared work already under `key`.

        With `drop_after`, work nobody has asked about (`snapshot`, `find`, `wait`, `submit` of its key) for that
        many seconds is dropped from the queue, and running work hears it through `Context.unwatched`.
        The line serves owners in turn, not first come first served, so one person's many maps or jobs never
        stand before everyone else's first. An owner's (not "", a script's) new work of a `group` (a page's one
        map) drops its waiting work of that group: the page has moved on from it. With `per_owner`, an owner's
        training beyond that many jobs waiting or running is refused with QueueFull.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind of work {kind!r}; choose one of: {', '.join(KINDS)}")
        with self._lock:
            if key is not None and (existing := self._find(key)) is not None:
                self._entries[existing].seen = time.monotonic()
                self._entries[existing].askers.add(owner)
                return existing
            self._drop_unwatched()
            self._make_room(kind, owner, group)
            entry = _Entry(secrets.token_hex(6), kind, key, fn, drop_after, owner)
            entry.group = group
            self._entries[entry.id] = entry
            self._queues[kind].append(entry.id)
            self._forget_old()
            self._dispatch(kind)
        return entry.id

    def snapshot(self, work_id: str) -> Snapshot:
        """The latest snapshot; KeyError for an id this process does not know (forgotten, or before a restart)."""
        with self._lock:
            entry = self._entries[work_id]
            entry.seen = time.monotonic()
            self._dispatch(entry.kind)  # every page's poll sweeps: queued work nobody polls goes, a long pause
            return self._snapshot(entry)  # gives its slot back

    def snapshots(self, kind: str | None = None) -> list[Snapshot]:
        """Every known piece of work (of one kind), newest first, read in one go."""
        with self._lock:
            return [self._snapshot(e) for e in reversed(self._entries.values()) if kind in (None, e.kind)]

    def find(self, key: Hashable) -> str | None:
        """The id of the queued, running or done work submitted under `key`, if there is one."""
        with self._lock:
            found = self._find(key)
            if found is not None:
                self._entries[found].seen = time.monotonic()
            return found

    def stop(self, work_id: str) -> None:
        """Ask work to stop: queued work is dropped at once, running work stops when it next checks."""
        with self._lock:
            entry = self._entries[work_id]
            entry.stop.set()
            if entry.snapshot.state == "paused" or entry.parked:
                entry.update(state="running", parked=False)  # it wakes to stop
            queued = work_id in self._queues[entry.kind]
            if queued:
                self._queues[entry.kind].remove(work_id)
            if entry.parked:
                entry.parked = False
                self._running[entry.kind].add(work_id)  # ends as running work does, in its own thread
            elif queued:
                self._finish(entry, state="stopped", message="stopped before it started")
            entry.resumed.set()

    def pause(self, work_id: str) -> bool:
        """Hold running work at its next `should_stop`, keeping what it holds and its slot; False if not running."""
        with self._lock:
            entry = self._entries[work_id]
            if entry.snapshot.state != "running" or entry.stop.is_set():
                return False
            entry.resumed.clear()
            entry.paused_at = time.monotonic()
            entry.update(state="paused")
            return True

    def resume(self, work_id: str) -> bool:
        """Let paused work go on where it was; False if it was not paused."""
        with self._lock:
            entry = self._entries[work_id]
            if entry.snapshot.state != "paused":
                return False
            if entry.parked:  # its slot went to another: it waits for the next free one, in its owner's turn
                self._queues[entry.kind].append(work_id)
                entry.update(state="queued")
                self._dispatch(entry.kind)
                return True
            entry.update(state="running")
            entry.resumed.set()
            return True

    def wait(self, work_id: str, timeout: float | None = None) -> Snapshot:
        """Block until the work has finished and return its last snapshot (TimeoutError if it has not)."""
        with self._lock:
            entry = self._entries[work_id]
            entry.seen = time.monotonic()
            done = entry.done
        try:
            return done.result(timeout)
        except TimeoutError:
            raise TimeoutError(f"work {work_id} still {self.snapshot(work_id).state} after {timeout} s") from None

    def shutdown(self, timeout: float = 20.0) -> list[str]:
        """Stop every piece of work and wait (up to `timeout` s in all) for running work to end; returns the ids
        still running then.

        Run at interpreter exit: work left running in a daemon thread would be torn down inside a native call
        (a torch kernel) as the interpreter finalises, which aborts the process.
        """
        with self._lock:
            ids = [i for i, e in self._entries.items() if not e.snapshot.finished]
        for work_id in ids:
            try:
                self.stop(work_id)
            except KeyError:  # forgotten meanwhile
                pass
        deadline = time.monotonic() + timeout
        with self._lock:
            pending = [(i, self._entries[i].done) for i in ids if i in self._entries]
        left = []
        for work_id, done in pending:
            try:
                done.result(max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                left.append(work_id)
        return left

    def _snapshot(self, entry: _Entry) -> Snapshot:  # caller holds the lock
        if entry.id in self._queues[entry.kind]:
            return dataclasses.replace(entry.snapshot, queue_position=self._line(entry.kind).index(entry.id) + 1)
        return entry.snapshot

    def _line(self, kind: str) -> list[str]:  # caller holds the lock
        """The queue of `kind` in the order it will be served: owners in turn, each owner's work in its order."""
        turns, line, queue = dict(self._turns[kind]), [], list(self._queues[kind])
        while queue:
            work_id = self._next(queue, turns)
            turns[self._entries[work_id].owner] = len(line) + self._turn + 1
            queue.remove(work_id)
            line.append(work_id)
        return line

    def _next(self, queue: list[str] | deque[str], turns: dict[str, int]) -> str:  # caller holds the lock
        """The first queued work of the owner served longest ago (never served comes first; ties: who came first)."""
        best, best_turn = queue[0], None
        for work_id in queue:
            turn = turns.get(self._entries[work_id].owner, -1)
            if best_turn is None or turn < best_turn:
                best, best_turn = work_id, turn
        return best

    def _make_room(self, kind: str, owner: str, group: Hashable | None) -> None:  # caller holds the lock
        """Before `owner` adds work: its waiting work of the same `group` goes (or goes on for the others who
        asked for it too), and training over `per_owner` is refused (see `submit`)."""
        if not owner:
            return
        mine = [e for e in self._entries.values() if not e.snapshot.finished and owner in e.askers]
        for entry in mine:
            if group is not None and entry.group == group and entry.id in self._queues[entry.kind]:
                entry.askers.discard(owner)
                if not entry.askers:
                    self._queues[entry.kind].remove(entry.id)
                    self._finish(entry, state="stopped", message=REPLACED)
        held = [e for e in mine if e.kind == "train" and not e.snapshot.finished]
        if kind == "train" and self.per_owner is not None and len(held) >= self.per_owner:
            raise QueueFull(f"You already have {len(held)} models training or waiting to train, as many as one person "
                            "may at once on this shared computer. Wait for one to finish, or stop one, then try again.")

    def _find(self, key: Hashable) -> str | None:  # caller holds the lock
        for entry in reversed(self._entries.values()):
            if entry.key == key and entry.snapshot.state in SHARED:
                return entry.id
        return None

    def _drop_unwatched(self) -> None:  # caller holds the lock
        for kind, queue in self._queues.items():
            for work_id in [i for i in queue if self._entries[i].unwatched()]:
                queue.remove(work_id)
                self._finish(self._entries[work_id], state="stopped", message=UNWATCHED)

    def _release_held(self, kind: str) -> None:  # caller holds the lock
        """Paused work past the pause hold gives its slot to the next in line, while someone waits for one, and
        at most `slots` of a kind at once: each keeps its worker process, beyond the pool's own."""
        if self.pause_hold is None or not self._queues[kind]:
            return
        now, parked = time.monotonic(), sum(1 for e in self._entries.values() if e.kind == kind and e.parked)
        for work_id in list(self._running[kind]):
            entry = self._entries[work_id]
            if parked >= self.slots[kind]:
                break
            if entry.snapshot.state == "paused" and now - entry.paused_at >= self.pause_hold:
                self._running[kind].discard(work_id)
                entry.parked = True
                entry.update(parked=True)
                parked += 1

    def _dispatch(self, kind: str) -> None:  # caller holds the lock
        self._drop_unwatched()
        self._release_held(kind)
        queue, running = self._queues[kind], self._running[kind]
        while queue and len(running) < self.slots[kind]:
            entry = self._entries[self._next(queue, self._turns[kind])]
            queue.remove(entry.id)
            self._turn += 1
            self._turns[kind][entry.owner] = self._turn
            running.add(entry.id)
            if entry.parked:  # resumed work taking a slot again: its thread has waited in should_stop
                entry.parked = False
                entry.update(state="running", parked=False)
                entry.resumed.set()
                continue
            entry.started = time.monotonic()
            entry.update(state="running")
            threading.Thread(target=self._work, args=(entry,), name=f"aecore-{kind}-{entry.id}", daemon=True).start()

    def _finish(self, entry: _Entry, **changes: Any) -> None:  # caller holds the lock
        entry.update(**changes)
        entry.fn = None  # the function and what it closes over go with it
        entry.done.set_result(entry.snapshot)

    def _forget_old(self) -> None:  # caller holds the lock
        finished = [i for i, e in self._entries.items() if e.snapshot.finished]
        for work_id in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._entries[work_id]

    def _work(self, entry: _Entry) -> None:
        changes: dict[str, Any]
        try:
            result = entry.fn(Context(entry))
        except Stopped:
            changes = {"state": "stopped", "message": UNWATCHED if entry.unwatched() else "stopped"}
        except Exception as err:  # failed work must say so, never look finished and good
            log.error("%s work %s failed:\n%s", entry.kind, entry.id, traceback.format_exc())
            changes = {"state": "failed", "error": f"{type(err).__name__}: {err}"}
        else:
            if isinstance(result, Outcome):
                changes = {"state": result.state, "result": result.result, "message": result.message}
            elif entry.stop.is_set():
                changes = {"state": "stopped", "message": "stopped", "result": result}
            else:
                changes = {"state": "done", "fraction": 1.0, "result": result}
        with self._lock:
            self._running[entry.kind].discard(entry.id)
            self._finish(entry, **changes)
            self._forget_old()
            self._dispatch(entry.kind)


_executor: Executor | None = None
_executor_lock = threading.Lock()
_services: dict[str, threading.Thread] = {}


def keep_running(name: str, target: Callable[[], Any]) -> threading.Thread:
    """Run `target` on a daemon thread named `name` that lives as long as the process, once per name; returns it.

    For the process's own housekeeping, beside the work in line: the memory trimmer, and the thread a local
    Ray is started from (its processes end with the thread that started them).
    """
    with _executor_lock:
        thread = _services.get(name)
        if thread is None or not thread.is_alive():
            thread = _services[name] = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
        return thread


def executor() -> Executor:
    """The process-wide executor, made on first use with the slots the environment sets."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = Executor({"train": settings.max_jobs(), "compute": settings.max_compute()},
                                 per_owner=settings.max_queued(), pause_hold=settings.pause_hold())
            atexit.register(_shutdown_at_exit, _executor)
        return _executor


def _shutdown_at_exit(ex: Executor) -> None:
    """Stop work before the interpreter finalises (a stop signal ends the server this way too)."""
    left = ex.shutdown()
    if left:
        log.warning("work %s was still running at exit", ", ".join(left))


def submit(fn: Callable[[Context], Any], kind: str = "compute", key: Hashable | None = None,
           drop_after: float | None = None, owner: str = "", group: Hashable | None = None) -> str:
    """Queue `fn(ctx)` in the process-wide executor; returns its id (a shared one under `key`)."""
    return executor().submit(fn, kind, key, drop_after, owner, group)


def snapshot(work_id: str) -> Snapshot:
    """The work's latest snapshot; KeyError once it is forgotten."""
    return executor().snapshot(work_id)


def find(key: Hashable) -> str | None:
    """The queued, running or done work submitted under `key`, if any."""
    return executor().find(key)


def stop(work_id: str) -> None:
    """Ask the work to stop."""
    executor().stop(work_id)


def pause(work_id: str) -> bool:
    """Hold running work where it is (it keeps its slot); False if it was not running."""
    return executor().pause(work_id)


def resume(work_id: str) -> bool:
    """Let paused work go on; False if it was not paused."""
    return executor().resume(work_id)


def wait(work_id: str, timeout: float | None = None) -> Snapshot:
    """Block until the work has finished (for scripts and tests)."""
    return executor().wait(work_id, timeout)
