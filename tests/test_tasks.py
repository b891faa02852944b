"""The background task runner: results, failures, progress, shared keys, cancelling and forgetting old tasks."""

from __future__ import annotations

import threading

import pytest

from aecore.tasks import TaskRegistry


def add(a: int, b: int, on_progress, should_stop) -> int:
    on_progress(0.5, "half way")
    return a + b


def broken(on_progress, should_stop) -> None:
    raise ValueError("the data is missing")


def gated(gate: threading.Event, seen: list, on_progress, should_stop) -> str:
    """Reports progress, then waits for the test to open the gate."""
    on_progress(0.25, "a quarter")
    seen.append("reported")
    gate.wait(10)
    on_progress(0.75, "three quarters")  # raises once the task was cancelled
    return "finished"


def test_a_task_runs_in_the_background_and_returns_its_result():
    tasks = TaskRegistry()
    task_id = tasks.submit(add, 2, 3)
    status = tasks.wait(task_id, timeout=10)
    assert (status.state, status.result, status.fraction, status.error) == ("done", 5, 1.0, "")
    assert status.finished and status.elapsed >= 0


def test_a_failing_task_is_marked_failed_with_its_error():
    tasks = TaskRegistry()
    status = tasks.wait(tasks.submit(broken), timeout=10)
    assert status.state == "failed" and status.result is None
    assert status.error == "ValueError: the data is missing"


def test_progress_is_visible_while_it_runs_and_cancel_stops_it():
    tasks, gate, seen = TaskRegistry(), threading.Event(), []
    task_id = tasks.submit(gated, gate, seen)
    while not seen:
        threading.Event().wait(0.01)
    status = tasks.status(task_id)
    assert (status.state, status.fraction, status.message) == ("running", 0.25, "a quarter")
    tasks.cancel(task_id)
    gate.set()
    assert tasks.wait(task_id, timeout=10).state == "cancelled"


def test_a_key_shares_one_task_until_it_fails():
    tasks, gate, seen = TaskRegistry(), threading.Event(), []
    first = tasks.submit(gated, gate, seen, key=("demo", 1))
    assert tasks.submit(gated, gate, seen, key=("demo", 1)) == first  # running: shared
    assert tasks.find(("demo", 1)) == first and tasks.find(("demo", 2)) is None
    gate.set()
    assert tasks.wait(first, timeout=10).result == "finished"
    assert tasks.submit(gated, gate, seen, key=("demo", 1)) == first  # done: a cached result
    failed = tasks.submit(broken, key="fails")
    tasks.wait(failed, timeout=10)
    assert tasks.find("fails") is None and tasks.submit(add, 1, 1, key="fails") != failed  # failed: tried again


def test_tasks_queue_for_a_slot_and_old_finished_ones_are_forgotten():
    tasks, gate, seen = TaskRegistry(max_concurrent=1, keep_finished=2), threading.Event(), []
    blocking = tasks.submit(gated, gate, seen)
    waiting = tasks.submit(add, 1, 2)
    while not seen:
        threading.Event().wait(0.01)
    assert tasks.status(waiting).state == "queued"
    gate.set()
    assert tasks.wait(waiting, timeout=10).result == 3
    later = [tasks.wait(tasks.submit(add, i, i), timeout=10) for i in range(3)]
    assert [s.result for s in later] == [0, 2, 4]
    with pytest.raises(KeyError):
        tasks.status(blocking)
    assert tasks.status(later[-1].task_id).result == 4


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        TaskRegistry(max_concurrent=0)
