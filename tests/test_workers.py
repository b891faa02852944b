"""The worker pool: heavy work in spawned processes that import once, stop and pause from the serving side, and
a worker's death contained to its own task, in real processes."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from aecore.background import UNWATCHED, Executor
from aecore.workers import Task, WorkerPool
from tests import worker_units


@pytest.fixture(scope="module")
def pool():
    p = WorkerPool(2)
    p.warm()
    yield p
    p.close()


def in_pool(pool: WorkerPool, task: Task, **kwargs):
    return lambda ctx: pool.run(task, ctx, **kwargs)


def test_a_task_runs_in_another_process_with_the_askers_settings(pool, runs_dir):
    ex = Executor({"train": 1, "compute": 1})
    first = ex.wait(ex.submit(in_pool(pool, Task(worker_units.pid_and_setting))), 120)
    assert first.state == "done"
    pid, folder = first.result
    assert pid != os.getpid() and folder == str(runs_dir)
    again = ex.wait(ex.submit(in_pool(pool, Task(worker_units.pid_and_setting))), 60)
    assert again.result[0] in pool.pids() or again.result[0] == pid  # a warm worker is lent again, not a new one


def test_a_units_own_error_fails_its_work_with_that_error_and_keeps_the_worker(pool):
    ex = Executor({"train": 1, "compute": 1})
    ex.wait(ex.submit(in_pool(pool, Task(worker_units.wait_then, (0, 0.0)))), 120)  # both workers up
    before = sorted(pool.pids())
    s = ex.wait(ex.submit(in_pool(pool, Task(worker_units.fail))), 120)
    assert s.state == "failed" and s.error == "ValueError: a unit's own error"
    assert sorted(pool.pids()) == before  # the worker that raised is lent again, not replaced


@pytest.mark.parametrize("how, words", [("segfault", "segmentation fault"), ("kill", "killed")])
def test_a_worker_that_dies_fails_only_its_task_and_is_replaced(pool, how, words):
    ex = Executor({"train": 1, "compute": 1})
    s = ex.wait(ex.submit(in_pool(pool, Task(worker_units.crash, (how,)))), 120)
    assert s.state == "failed" and "WorkerLost" in s.error and words in s.error, s.error
    after = ex.wait(ex.submit(in_pool(pool, Task(worker_units.wait_then, ("next", 0.0)))), 120)
    assert after.state == "done" and after.result == "next"


def test_stop_and_pause_reach_the_worker(pool):
    ex = Executor({"train": 1, "compute": 1})
    work = ex.submit(in_pool(pool, Task(worker_units.wait_then, ("late", 60.0))))
    deadline = time.monotonic() + 120
    while ex.snapshot(work).message != "waiting":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ex.pause(work)
    time.sleep(0.5)
    seen = ex.snapshot(work)
    time.sleep(0.5)
    assert ex.snapshot(work) == seen  # paused in the worker: no progress comes back
    assert ex.resume(work)
    ex.stop(work)
    asked = time.monotonic()
    s = ex.wait(work, 10)
    assert s.state == "stopped" and time.monotonic() - asked < 2


def test_a_task_that_never_asks_is_ended_with_its_worker_after_a_stop(pool):
    ex = Executor({"train": 1, "compute": 1})
    work = ex.submit(in_pool(pool, Task(worker_units.hold, (60.0,)), cancel_after=0.5))
    time.sleep(3)  # lent and running
    ex.stop(work)
    asked = time.monotonic()
    assert ex.wait(work, 10).state == "stopped" and time.monotonic() - asked < 5
    assert ex.wait(ex.submit(in_pool(pool, Task(worker_units.wait_then, (1, 0.0)))), 120).result == 1


def test_work_nobody_asks_about_is_stopped_in_its_worker_or_dropped_from_the_queue(pool):
    ex = Executor({"train": 1, "compute": 1})
    watched = ex.submit(in_pool(pool, Task(worker_units.wait_then, ("kept", 60.0))), drop_after=0.5)
    queued = ex.submit(in_pool(pool, Task(worker_units.wait_then, ("never", 0.0))), drop_after=0.5)
    started = time.monotonic()
    while time.monotonic() - started < 2.0:  # a page polling its own work twice a second keeps it going
        assert ex.snapshot(watched).state == "running"
        time.sleep(0.1)
    assert ex.snapshot(queued).state == "stopped" and ex.snapshot(queued).message == UNWATCHED  # nobody polled it
    time.sleep(1.0)  # now nobody asks about the running one either: the tab was closed
    s = ex.wait(watched, 10)
    assert s.state == "stopped" and s.message == UNWATCHED and s.result is None
    unbounded = ex.submit(in_pool(pool, Task(worker_units.wait_then, ("trained", 1.0))), "train")
    assert ex.wait(unbounded, 60).result == "trained"  # work without drop_after (training) runs whoever watches


def test_a_task_that_gave_its_slot_back_keeps_its_worker_and_the_next_gets_one_of_its_own():
    before = len(multiprocessing.active_children())
    small = WorkerPool(1)
    try:
        ex = Executor({"train": 1}, pause_hold=0.0)
        held = ex.submit(in_pool(small, Task(worker_units.wait_then, ("held", 60.0))), "train", owner="a" * 32)
        deadline = time.monotonic() + 120
        while ex.snapshot(held).message != "waiting":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ex.pause(held)
        nxt = ex.submit(in_pool(small, Task(worker_units.pid_and_setting)), "train", owner="b" * 32)
        s = ex.wait(nxt, 120)  # the pool of one lends a second worker while the first's task stands parked
        assert s.state == "done" and ex.snapshot(held).parked
        assert len(multiprocessing.active_children()) == before + 2  # the parked task's worker, and the one lent
        ex.resume(held)
        ex.stop(held)
        assert ex.wait(held, 30).state == "stopped"
        deadline = time.monotonic() + 10
        while len(multiprocessing.active_children()) > before + 1:  # the worker beyond the size is retired
            assert time.monotonic() < deadline, multiprocessing.active_children()
            time.sleep(0.05)
        assert len(small.pids()) == 1
    finally:
        small.close()
