"""The one executor with real threads and real work: results, failures, slots per kind, shared keys, stop, forgetting."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from aecore import background
from aecore.background import Context, Executor, Outcome, Stopped


def crunch(seconds: float) -> float:
    """Real CPU work for about `seconds`: repeated matrix products."""
    a, total, end = np.random.default_rng(0).random((64, 64)), 0.0, time.monotonic() + seconds
    while time.monotonic() < end:
        total += float((a @ a).sum())
    return total


class Recorder:
    """Start and end times of each piece of work, to check what ran at the same time."""

    def __init__(self):
        self.spans: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def work(self, seconds: float):
        def run(ctx: Context) -> float:
            start = time.monotonic()
            crunch(seconds)
            with self.lock:
                self.spans.append((start, time.monotonic()))
            return seconds
        return run

    def overlapped(self) -> bool:
        spans = sorted(self.spans)
        return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))


def gated(gate: threading.Event, seen: list):
    def run(ctx: Context) -> str:
        ctx.report(0.25, "a quarter")
        seen.append("reported")
        gate.wait(10)
        ctx.report(0.75, "three quarters")  # raises Stopped once a stop was asked
        return "finished"
    return run


def broken(ctx: Context) -> None:
    raise ValueError("the data is missing")


def test_work_runs_in_the_background_and_its_snapshot_ends_with_the_result():
    ex = Executor({"compute": 1})
    work = ex.submit(lambda ctx: (ctx.report(0.5, "half way"), 2 + 3)[1])
    done = ex.wait(work, timeout=10)
    assert (done.state, done.fraction, done.result, done.error, done.kind) == ("done", 1.0, 5, "", "compute")
    assert done.finished and done.elapsed >= 0 and done.queue_position == 0
    assert ex.snapshot(work) == done  # rejoined by its id alone, as a page does after a refresh


def test_an_error_becomes_a_failed_snapshot_with_its_message():
    ex = Executor({"compute": 1})
    failed = ex.wait(ex.submit(broken), timeout=10)
    assert failed.state == "failed" and failed.error == "ValueError: the data is missing" and failed.result is None
    assert ex.wait(ex.submit(lambda ctx: crunch(0.01)), timeout=10).state == "done"  # the slot is free again


def test_one_compute_slot_never_runs_two_compute_submits_at_once():
    ex, rec = Executor({"compute": 1, "train": 1}), Recorder()
    first, second = ex.submit(rec.work(0.4)), ex.submit(rec.work(0.4))
    assert ex.snapshot(first).state == "running"
    queued = ex.snapshot(second)
    assert (queued.state, queued.queue_position) == ("queued", 1)
    train = Recorder()
    trained = ex.submit(train.work(0.2), "train")  # another kind has its own slot: it does not wait
    assert ex.snapshot(trained).state == "running"
    for work in (first, second, trained):
        assert ex.wait(work, timeout=10).state == "done"
    assert len(rec.spans) == 2 and not rec.overlapped()
    assert train.spans[0][0] < rec.spans[0][1]  # the training ran while the first compute did


def test_two_slots_run_two_at_once():
    ex, rec = Executor({"compute": 2}), Recorder()
    ids = [ex.submit(rec.work(0.3)) for _ in range(2)]
    assert [ex.wait(i, timeout=10).state for i in ids] == ["done", "done"]
    assert rec.overlapped()


def test_a_key_shares_queued_running_and_done_work_but_not_failed_work():
    ex, gate, seen = Executor({"compute": 1}), threading.Event(), []
    first = ex.submit(gated(gate, seen), key=("map", "run1"))
    assert ex.submit(gated(gate, seen), key=("map", "run1")) == first  # running: shared
    assert ex.find(("map", "run1")) == first and ex.find(("map", "run2")) is None
    gate.set()
    assert ex.wait(first, timeout=10).result == "finished" and seen == ["reported"]  # computed once
    assert ex.submit(gated(gate, seen), key=("map", "run1")) == first  # done: a cached result
    failed = ex.submit(broken, key="fails")
    ex.wait(failed, timeout=10)
    assert ex.find("fails") is None and ex.submit(lambda ctx: 1, key="fails") != failed  # failed: tried again


def test_stop_ends_running_work_at_its_next_report_and_drops_queued_work():
    ex, gate, seen = Executor({"compute": 1}), threading.Event(), []
    running = ex.submit(gated(gate, seen))
    ran: list[str] = []
    queued = ex.submit(lambda ctx: ran.append("ran"))
    deadline = time.monotonic() + 10
    while not seen:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    mid = ex.snapshot(running)
    assert (mid.state, mid.fraction, mid.message) == ("running", 0.25, "a quarter")
    ex.stop(queued)
    assert ex.snapshot(queued).state == "stopped" and ex.snapshot(queued).message == "stopped before it started"
    ex.stop(running)
    gate.set()
    assert ex.wait(running, timeout=10).state == "stopped" and ex.snapshot(running).result is None
    assert ran == []


def test_work_that_checks_should_stop_ends_stopped_and_keeps_what_it_returned():
    ex, started = Executor({"train": 1}), threading.Event()

    def loop(ctx: Context) -> int:
        steps = 0
        started.set()
        while not ctx.should_stop():
            crunch(0.01)
            steps += 1
        return steps

    work = ex.submit(loop, "train")
    started.wait(10)
    ex.stop(work)
    stopped = ex.wait(work, timeout=10)
    assert stopped.state == "stopped" and stopped.result >= 0


def test_an_outcome_ends_work_in_a_finished_state_with_why():
    ex = Executor({"train": 1})
    failed = ex.wait(ex.submit(lambda ctx: Outcome("failed", None, "no mirror answered"), "compute"), timeout=10)
    assert (failed.state, failed.message, failed.error) == ("failed", "no mirror answered", "")
    with pytest.raises(ValueError, match="must be one of"):
        Outcome("diverged")  # training's own endings are the training job's, not the executor's


def test_old_finished_work_is_forgotten_but_running_work_is_kept():
    ex, gate, seen = Executor({"compute": 2}, keep_finished=2), threading.Event(), []
    running = ex.submit(gated(gate, seen))
    old = [ex.wait(ex.submit(lambda ctx, i=i: i), timeout=10) for i in range(4)]
    with pytest.raises(KeyError):
        ex.snapshot(old[0].id)
    assert ex.snapshot(old[-1].id).result == 3 and ex.snapshot(running).state == "running"
    gate.set()
    ex.wait(running, timeout=10)
    assert len(ex.snapshots()) <= 3


def test_worker_threads_end_with_their_work():
    ex = Executor({"compute": 2})
    before = threading.active_count()
    ids = [ex.submit(lambda ctx: crunch(0.05)) for _ in range(6)]
    assert all(ex.wait(i, timeout=10).state == "done" for i in ids)
    deadline = time.monotonic() + 5
    while threading.active_count() > before:
        assert time.monotonic() < deadline, threading.enumerate()
        time.sleep(0.01)


def test_report_raises_stopped_only_after_a_stop():
    ex, gate = Executor({"compute": 1}), threading.Event()
    errors = []

    def work(ctx: Context) -> None:
        gate.wait(10)
        try:
            ctx.report(0.5)
        except Stopped as err:
            errors.append(err)
            raise

    work_id = ex.submit(work)
    ex.stop(work_id)
    gate.set()
    assert ex.wait(work_id, timeout=10).state == "stopped" and len(errors) == 1


def test_bad_kinds_and_slots_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="unknown kind of work 'gpu'"):
        Executor({"compute": 1}).submit(lambda ctx: None, "gpu")
    with pytest.raises(ValueError, match="at least 1"):
        Executor({"compute": 0})
    monkeypatch.setattr(background, "_executor", None)
    monkeypatch.setenv("AECORE_MAX_COMPUTE", "0")
    with pytest.raises(ValueError, match="AECORE_MAX_COMPUTE must be a whole number from 1"):
        background.executor()
    monkeypatch.setenv("AECORE_MAX_COMPUTE", "3")
    monkeypatch.setenv("AECORE_MAX_JOBS", "2")
    assert background.executor().slots == {"train": 2, "compute": 3}


def test_wait_times_out_on_work_still_running():
    ex, gate = Executor({"compute": 1}), threading.Event()
    work = ex.submit(lambda ctx: gate.wait(10))
    with pytest.raises(TimeoutError, match="still running"):
        ex.wait(work, timeout=0.05)
    gate.set()
    assert ex.wait(work, timeout=10).state == "done"


def test_shutdown_stops_running_and_queued_work_and_names_what_would_not_end():
    ex = Executor({"train": 1, "compute": 1})
    started = threading.Event()

    def polite(ctx):
        started.set()
        while not ctx.should_stop():
            time.sleep(0.01)
        return "partial"

    release = threading.Event()
    running = ex.submit(polite, "train")
    queued = ex.submit(polite, "train")
    stubborn = ex.submit(lambda ctx: release.wait(10), "compute")
    assert started.wait(10)
    assert ex.shutdown(timeout=1.0) == [stubborn]
    assert ex.snapshot(running).state == "stopped" and ex.snapshot(queued).state == "stopped"
    release.set()
    assert ex.wait(stubborn, 10).state == "stopped"  # asked to stop, so its result is not called done


def started_in_order(ex: Executor, submits: list[tuple[str, str]]) -> list[str]:
    """Submit one piece of training work per (owner, label) behind a running gate; the labels in the order run."""
    gate, order = threading.Event(), []
    blocker = ex.submit(lambda ctx: gate.wait(10), "train")
    ids = [ex.submit(lambda ctx, label=label: order.append(label), "train", owner=owner) for owner, label in submits]
    positions = {submits[n][1]: ex.snapshot(i).queue_position for n, i in enumerate(ids)}
    gate.set()
    for i in (blocker, *ids):
        ex.wait(i, 10)
    assert sorted(positions, key=positions.get) == order  # the line's positions said the order it was served in
    return order


def test_owners_are_served_in_turn_not_first_come_first_served():
    ex = Executor({"train": 1})
    order = started_in_order(ex, [("a" * 32, "a1"), ("a" * 32, "a2"), ("a" * 32, "a3"), ("b" * 32, "b1"),
                                  ("c" * 32, "c1"), ("b" * 32, "b2")])
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3"]


def test_an_owner_may_have_per_owner_jobs_waiting_or_running_and_no_more():
    ex, gate = Executor({"train": 1}, per_owner=2), threading.Event()
    me, other = "a" * 32, "b" * 32
    mine = [ex.submit(lambda ctx: gate.wait(10), "train", owner=me) for _ in range(2)]  # one running, one waiting
    with pytest.raises(background.QueueFull, match="You already have 2 models training or waiting to train"):
        ex.submit(lambda ctx: None, "train", owner=me)
    theirs = ex.submit(lambda ctx: None, "train", owner=other)  # another person's first job is taken
    scripts = [ex.submit(lambda ctx: None, "train") for _ in range(3)]  # a script (no owner) is not bounded
    ex.stop(mine[1])
    again = ex.submit(lambda ctx: None, "train", owner=me)  # a stopped job frees its place
    gate.set()
    for i in (*mine, theirs, *scripts, again):
        ex.wait(i, 10)
    assert ex.snapshot(again).state == "done"


def test_an_owners_new_map_takes_the_place_of_its_waiting_one_unless_someone_else_waits_for_it():
    ex, gate = Executor({"compute": 1}), threading.Event()
    me, other = "a" * 32, "b" * 32
    running = ex.submit(lambda ctx: gate.wait(10), "compute", owner=me, group="map")
    old = ex.submit(lambda ctx: "old", "compute", key="old map", owner=me, group="map")
    new = ex.submit(lambda ctx: "new", "compute", key="new map", owner=me, group="map")
    assert ex.snapshot(old).state == "stopped" and ex.snapshot(old).message == background.REPLACED
    assert ex.snapshot(running).state == "running"  # work already running is not taken away
    shared = ex.submit(lambda ctx: "shared", "compute", key="shared map", owner=me, group="map")
    assert ex.submit(lambda ctx: None, "compute", key="shared map", owner=other, group="map") == shared
    ex.submit(lambda ctx: "newest", "compute", key="newest map", owner=me, group="map")
    assert ex.snapshot(new).state == "stopped"
    assert ex.snapshot(shared).state == "queued"  # the other person still waits for it
    scores = ex.submit(lambda ctx: "scores", "compute", key="scores", owner=me)  # no group: nothing replaced
    gate.set()
    assert ex.wait(shared, 10).result == "shared" and ex.wait(scores, 10).result == "scores"


def counter(steps: list[int]):
    """Work that keeps what it built (a count) across pauses, as a training job keeps its model."""
    def run(ctx: Context) -> int:
        while not ctx.should_stop():
            steps.append(len(steps))
            time.sleep(0.005)
        return len(steps)
    return run


def _until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_long_pause_gives_the_slot_to_the_next_in_line_and_resumes_from_where_it_was():
    ex, steps, done = Executor({"train": 1}, pause_hold=0.3), [], []
    held = ex.submit(counter(steps), "train", owner="a" * 32)
    _until(lambda: len(steps) >= 5)
    assert ex.pause(held)
    at_pause = len(steps)
    waiting = ex.submit(lambda ctx: done.append(len(steps)), "train", owner="b" * 32)
    assert ex.snapshot(waiting).state == "queued"  # within the hold the paused work keeps its slot
    _until(lambda: ex.snapshot(waiting).state == "done")  # a poll past the hold hands the slot over
    assert ex.snapshot(held).state == "paused" and ex.snapshot(held).parked
    assert done == [at_pause] and len(steps) == at_pause  # the other work ran while this one stood still
    assert ex.resume(held)
    _until(lambda: len(steps) > at_pause + 5)  # the slot is free: it runs again at once
    assert ex.snapshot(held).state == "running" and not ex.snapshot(held).parked
    assert steps[at_pause] == at_pause  # carried on from where it was, nothing built is lost
    ex.stop(held)
    assert ex.wait(held, 10).result == len(steps)


def test_resumed_work_waits_its_turn_when_its_slot_is_taken_and_a_stop_ends_it():
    ex, steps, gate = Executor({"train": 1}, pause_hold=0.0), [], threading.Event()
    held = ex.submit(counter(steps), "train", owner="a" * 32)
    _until(lambda: len(steps) >= 3)
    ex.pause(held)
    other = ex.submit(lambda ctx: gate.wait(10), "train", owner="b" * 32)
    _until(lambda: ex.snapshot(other).state == "running")
    assert ex.resume(held) and ex.snapshot(held).state == "queued" and ex.snapshot(held).queue_position == 1
    at_resume = len(steps)
    time.sleep(0.1)
    assert len(steps) == at_resume  # it waits for a slot, not beside the other work
    ex.stop(held)
    assert ex.wait(held, 10).state == "stopped"
    gate.set()
    assert ex.wait(other, 10).state == "done"


def test_paused_work_keeps_its_slot_without_a_pause_hold_or_anyone_waiting():
    ex, steps = Executor({"train": 1}, pause_hold=None), []
    held = ex.submit(counter(steps), "train")
    _until(lambda: len(steps) >= 3)
    ex.pause(held)
    waiting = ex.submit(lambda ctx: None, "train")
    time.sleep(0.2)
    assert ex.snapshot(waiting).state == "queued" and not ex.snapshot(held).parked
    ex.stop(held)
    assert ex.wait(waiting, 10).state == "done"
