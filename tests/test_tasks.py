"""Tasks in the on_progress/should_stop style run as train work on the one executor: results, stop, keys, slots."""

from __future__ import annotations

import threading
import time

from aecore import tasks
from aecore.background import Executor


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
    on_progress(0.75, "three quarters")  # raises once the task was stopped
    return "finished"


def timed(spans: list, seconds: float, on_progress, should_stop) -> None:
    start = time.monotonic()
    while time.monotonic() < start + seconds and not should_stop():
        on_progress((time.monotonic() - start) / seconds, "working")
        time.sleep(0.01)
    spans.append((start, time.monotonic()))


def test_a_task_runs_as_train_work_and_returns_its_result():
    ex = Executor({"train": 1})
    status = ex.wait(tasks.submit(add, 2, 3, executor=ex), timeout=10)
    assert (status.kind, status.state, status.result, status.fraction, status.error) == ("train", "done", 5, 1.0, "")
    failed = ex.wait(tasks.submit(broken, executor=ex), timeout=10)
    assert failed.state == "failed" and failed.error == "ValueError: the data is missing"


def test_a_stopped_task_ends_at_its_next_report():
    ex, gate, seen = Executor({"train": 1}), threading.Event(), []
    task_id = tasks.submit(gated, gate, seen, executor=ex)
    while not seen:
        time.sleep(0.01)
    assert ex.snapshot(task_id).message == "a quarter"
    ex.stop(task_id)
    gate.set()
    assert ex.wait(task_id, timeout=10).state == "stopped"


def test_a_key_shares_one_task_until_it_fails():
    ex, gate, seen = Executor({"train": 1}), threading.Event(), []
    first = tasks.submit(gated, gate, seen, key=("demo", 1), executor=ex)
    assert tasks.submit(gated, gate, seen, key=("demo", 1), executor=ex) == first
    gate.set()
    assert ex.wait(first, timeout=10).result == "finished" and seen == ["reported"]
    failed = tasks.submit(broken, key="fails", executor=ex)
    ex.wait(failed, timeout=10)
    assert tasks.submit(add, 1, 1, key="fails", executor=ex) != failed


def test_a_task_takes_a_training_slot_but_leaves_compute_free():
    ex, trained, computed = Executor({"train": 1, "compute": 1}), [], []
    task = tasks.submit(timed, trained, 0.3, executor=ex)
    other_training = ex.submit(lambda ctx: timed(trained, 0.3, ctx.report, ctx.should_stop), "train")
    assert ex.snapshot(other_training).queue_position == 1
    compute = ex.submit(lambda ctx: timed(computed, 0.1, ctx.report, ctx.should_stop), "compute")
    for work in (task, other_training, compute):
        assert ex.wait(work, timeout=10).state == "done"
    (a_start, a_end), (b_start, b_end) = sorted(trained)
    assert a_end <= b_start  # one training slot: never at the same time
    assert computed[0][0] < a_end  # compute has its own slot
