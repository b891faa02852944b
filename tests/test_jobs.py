import math
import random
import sys
import threading
import time

import pytest
import safetensors.torch
import torch

from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore import background, units, workers
from aecore.background import Executor
from aecore.step_log import READ_EVERY
from aecore.workers import FLUSH_SECONDS, POLL_SECONDS
from aecore.jobs import JobRegistry
from aecore.owners import new_token, owner_of
from aecore.config import default_config
from aecore.store.runs import list_runs, load_run

SMALL = RunConfig(DataConfig(limit_train=1500, limit_test=100), ModelConfig(), TrainConfig(epochs=2, batch_size=64))
LONG = RunConfig(DataConfig(limit_test=100), ModelConfig(), TrainConfig(epochs=200, batch_size=32, patience=0))
DIVERGES = RunConfig(
    DataConfig(limit_train=2000, limit_test=50),
    ModelConfig("deep_mlp_ae", 32, (512, 512, 512), "elu", output="clamp"),
    TrainConfig(lr=10.0, epochs=3),
)


def registry(train_slots: int = 1, **kwargs) -> JobRegistry:
    """A registry on its own executor, so no other test's work holds its training slots."""
    return JobRegistry(executor=Executor({"train": train_slots, "compute": 1}), **kwargs)


def threads_settle(before: int, timeout: float = 5.0) -> bool:
    """True once the worker threads are back to `before`: a thread ends just after its work's snapshot."""
    deadline = time.monotonic() + timeout
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count() == before


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_job_trains_in_the_background_and_saves_a_run(runs_dir):
    reg, before = registry(), threading.active_count()
    owner = owner_of(new_token())
    job_id = reg.start(SMALL, owner=owner)
    assert reg.progress(job_id).owner == owner
    p = reg.wait(job_id, timeout=60)
    assert p.state == "done" and p.finished and p.fraction == 1.0
    assert p.step == p.total_steps == 44 and p.epoch == 2  # 1350 training images / 64, twice
    assert [e for e, _ in p.recons] == [0, 1, 2]
    assert p.originals.shape == (8, 28, 28) and p.recons[-1][1].shape == (8, 28, 28)
    assert len(p.epochs) == 2 and all("val_loss" in e for e in p.epochs)
    assert p.curve and p.curve[-1][0] == 44
    assert set(p.metrics) >= {"mse", "ssim"}
    info = load_run(p.run_id)
    assert info.ok and info.config == SMALL and [r.id for r in list_runs()] == [p.run_id]
    assert p.owner == info.owner == owner  # who started the job owns its run
    assert threads_settle(before)
    work = reg.executor.snapshot(job_id)  # the job's id is the executor's: both snapshots end alike
    assert (work.kind, work.state, work.result, work.fraction) == ("train", "done", p.run_id, 1.0)


def test_a_training_job_and_the_one_class_demo_never_train_at_the_same_time(runs_dir):
    """One training slot is shared: the demo (started second) trains only after the job has finished training."""
    ex = background.executor()
    reg = JobRegistry(executor=ex)
    job_id = reg.start(SMALL)
    demo_id = workers.submit(units.one_class, 0, "fashion-mnist-sample", 1, 0, kind="train")
    while not reg.progress(job_id).finished:
        assert ex.snapshot(demo_id).state == "queued"  # behind the job in the one training slot
        time.sleep(0.05)
    job = reg.progress(job_id)
    assert job.state == "done" and job.step == 44
    demo = ex.wait(demo_id, 120)
    assert demo.state == "done", demo.error
    assert demo.result.normal_class == 0 and len(demo.result.scores) == len(demo.result.labels) > 0


def test_reconstructions_sharpen_epoch_by_epoch(runs_dir):
    reg = registry()
    p = reg.wait(reg.start(RunConfig(DataConfig(limit_train=2000, limit_test=100), train=TrainConfig(epochs=3))), 60)
    errors = [abs(r.astype(float) - p.originals.astype(float)).mean() for _, r in p.recons]
    assert errors[-1] < errors[0] * 0.6


def test_queue_runs_jobs_in_order_within_the_limit(runs_dir):
    reg, before = registry(), threading.active_count()
    first = reg.start(LONG)
    second, third = reg.start(SMALL), reg.start(SMALL)
    _wait_for(lambda: reg.progress(first).step > 0)
    assert reg.progress(second).state == "queued" and reg.progress(second).queue_position == 1
    assert reg.progress(third).queue_position == 2
    assert reg.progress(first).state == "running" and threading.active_count() == before + 1
    reg.stop(first)
    assert reg.wait(second, 60).state == "done"
    assert reg.wait(third, 60).state == "done"
    assert reg.progress(first).state == "stopped"
    assert len(list_runs()) == 2


def test_stop_ends_within_one_batch_and_saves_nothing(runs_dir):
    reg = registry()
    job_id = reg.start(LONG)
    _wait_for(lambda: reg.progress(job_id).step >= 200)  # past the first steps' one-off work: a steady pace
    reg.stop(job_id)
    at_stop = reg.progress(job_id)
    p = reg.wait(job_id, 10)
    assert p.state == "stopped" and p.run_id is None and "nothing was saved" in p.message
    # steps are read back a few times a second (READ_EVERY) and handed over from the worker (FLUSH_SECONDS), so
    # the snapshot at the stop may lag by the steps of those intervals; the stop reaches the worker within a poll
    # (POLL_SECONDS); beyond those, at most the batch that was running when the stop came
    lag = 2 * READ_EVERY + FLUSH_SECONDS + 2 * POLL_SECONDS
    unreported = math.ceil(lag * at_stop.images_per_sec / LONG.train.batch_size)
    assert p.step <= at_stop.step + unreported + 1, (at_stop.step, p.step, unreported)
    assert list_runs() == []


def test_stop_can_keep_the_partial_model_marked_as_stopped(runs_dir):
    reg = registry()
    job_id = reg.start(LONG)
    _wait_for(lambda: reg.progress(job_id).step >= 3)
    reg.stop(job_id, keep=True)
    p = reg.wait(job_id, 10)
    info = load_run(p.run_id)
    assert p.state == "stopped" and info.status == "stopped" and not info.ok


def test_a_job_past_the_time_limit_stops_and_keeps_what_it_learned(runs_dir, monkeypatch):
    monkeypatch.setenv("AECORE_MAX_JOB_MINUTES", "0.05")  # 3 s
    reg = registry()
    job_id = reg.start(LONG)  # 200 epochs: hours here
    p = reg.wait(job_id, 60)
    assert p.state == "stopped" and "time limit of 0.05 minutes" in p.message and "was saved" in p.message
    assert 3 <= p.elapsed < 30 and 0 < p.epoch < LONG.train.epochs
    info = load_run(p.run_id)
    assert info.status == "stopped" and not info.ok


def test_queued_job_can_be_stopped_before_it_starts(runs_dir):
    reg = registry()
    first, second = reg.start(LONG), reg.start(SMALL)
    reg.stop(second)
    assert reg.progress(second).state == "stopped" and reg.progress(second).message == "stopped before it started"
    assert reg.executor.snapshot(second).state == "stopped"
    reg.stop(first)
    reg.wait(first, 10)
    assert list_runs() == []


def test_divergence_is_reported_and_nothing_is_saved(runs_dir):
    reg = registry()
    p = reg.wait(reg.start(DIVERGES), 60)
    assert p.state == "diverged" and "learning rate" in p.message and "Nothing was saved" in p.message
    assert p.run_id is None and list_runs() == []


def test_a_failing_job_is_marked_failed_with_the_reason(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "empty"))
    reg, before = registry(), threading.active_count()
    job_id = reg.start(RunConfig(DataConfig(name="mnist")))
    p = reg.wait(job_id, 30)
    assert p.state == "failed" and "DatasetUnavailable" in p.message and "AECORE_DATA_DIR" in p.message
    assert p.run_id is None and threads_settle(before)
    work = reg.executor.snapshot(job_id)  # the job's id is the executor's: both say the same
    assert work.state == "failed" and work.error == p.message


def test_jobs_survive_the_thread_that_started_them(runs_dir):
    reg = registry()
    ids = []
    t = threading.Thread(target=lambda: ids.append(reg.start(SMALL)))
    t.start()
    t.join()  # like a Streamlit script run that has ended
    assert reg.wait(ids[0], 60).state == "done"


def test_unknown_job_id_raises_key_error():
    with pytest.raises(KeyError):
        registry().progress("nope")


def test_start_rejects_anything_but_a_run_config():
    with pytest.raises(TypeError, match="RunConfig"):
        registry().start({"model": "mlp_ae"})  # type: ignore[arg-type]


def test_a_run_no_better_than_the_average_image_is_saved_and_marked(runs_dir):
    cfg = RunConfig(DataConfig(limit_train=1000, limit_test=200), ModelConfig(), TrainConfig(lr=1.0, epochs=2))
    reg = registry()
    p = reg.wait(reg.start(cfg), 60)
    assert p.state == "no_better" and p.finished and "average image" in p.message
    assert p.metrics["mse"] >= p.metrics["mean_image_mse"]
    info = load_run(p.run_id)
    assert info.status == "no_better" and not info.ok and info.metrics["mean_image_mse"] == p.metrics["mean_image_mse"]
    assert [r.id for r in list_runs()] == [p.run_id]


def _weights(run_id: str) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(load_run(run_id).path / "weights.safetensors")


@pytest.mark.parametrize("kind", ["mlp_ae", "vae"])
def test_same_seed_gives_the_same_weights_alone_or_side_by_side(kind, runs_dir):
    cfg = RunConfig(DataConfig(limit_train=600, limit_test=50), default_config(kind),
                    TrainConfig(epochs=1, batch_size=32, seed=5))
    alone = registry()
    reference = _weights(alone.wait(alone.start(cfg), 60).run_id)

    stop = threading.Event()

    def meddle() -> None:  # what page scoring or another library does with torch's global generator
        while not stop.is_set():
            torch.manual_seed(random.randrange(1000))
            torch.randn(64)

    meddler = threading.Thread(target=meddle, daemon=True)
    meddler.start()
    try:
        reg = registry(2)
        ids = [reg.start(cfg), reg.start(cfg)]
        done = [reg.wait(i, 120) for i in ids]
    finally:
        stop.set()
        meddler.join()
    for p in done:
        assert p.run_id and p.state in ("done", "no_better"), p.message  # 17 steps: the weights are what counts
        weights = _weights(p.run_id)
        assert weights.keys() == reference.keys()
        assert all(torch.equal(weights[k], reference[k]) for k in reference), kind


def test_listing_jobs_while_old_ones_are_forgotten_never_raises(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "empty"))  # every job fails at once: tiny jobs
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, to hit any unlocked gap
    reg = registry(2, keep_finished=2)
    cfg = RunConfig(DataConfig(name="mnist"))
    errors: list[tuple[str, BaseException]] = []
    done = threading.Event()

    def churn() -> None:
        try:
            for _ in range(300):
                reg.wait(reg.start(cfg), 30)
        except BaseException as err:  # noqa: BLE001  (reported below)
            errors.append(("start/wait", err))
        finally:
            done.set()

    worker = threading.Thread(target=churn)
    worker.start()
    listed = 0
    try:
        while not done.is_set():
            listed += len(reg.jobs())
    except KeyError as err:
        errors.append(("jobs()", err))
    finally:
        done.wait(120)
        worker.join()
        sys.setswitchinterval(old_interval)
    assert not errors and listed > 0


def test_a_forgotten_job_is_told_apart_from_one_this_server_never_had(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "empty"))  # every job fails at once: tiny jobs
    reg = registry(keep_finished=1)
    first = reg.start(RunConfig(DataConfig(name="mnist")))
    reg.wait(first, 30)
    assert not reg.forgotten(first)
    reg.wait(reg.start(RunConfig(DataConfig(name="mnist"))), 30)
    with pytest.raises(KeyError):
        reg.progress(first)
    assert reg.forgotten(first) and not reg.forgotten("never-was")


def test_an_owner_keeps_at_most_the_runs_the_server_allows(runs_dir, monkeypatch):
    monkeypatch.setenv("AECORE_MAX_RUNS_PER_OWNER", "2")
    reg, me, other = registry(), owner_of(new_token()), owner_of(new_token())
    first = reg.start(SMALL, owner=me)
    second = reg.start(SMALL, owner=me)  # one saved and one training count the same: both will be runs
    with pytest.raises(background.QueueFull, match="You keep 2 models"):
        reg.start(SMALL, owner=me)
    reg.wait(reg.start(SMALL, owner=other), 60)  # another person is not held back
    for job_id in (first, second):
        reg.wait(job_id, 60)
    with pytest.raises(background.QueueFull, match="Delete the ones you no longer need"):
        reg.start(SMALL, owner=me)
    reg.wait(reg.start(SMALL), 60)  # a script's job has no owner and no bound


def test_a_job_paused_past_the_hold_lets_the_next_train_and_carries_on_where_it_was(runs_dir):
    reg = JobRegistry(executor=Executor({"train": 1, "compute": 1}, pause_hold=0.5))
    held = reg.start(LONG, owner=owner_of(new_token()))
    _wait_for(lambda: reg.progress(held).step >= 20, 60)
    assert reg.pause(held)
    _wait_for(lambda: reg.progress(held).state == "paused")
    time.sleep(2 * READ_EVERY + FLUSH_SECONDS + 2 * POLL_SECONDS)  # the last steps before the pause reported
    at_pause = reg.progress(held)
    first_loss = at_pause.curve[0][1]
    other = reg.start(SMALL, owner=owner_of(new_token()))
    p = reg.wait(other, 120)  # trains in the place the paused job gave back, in a worker of its own
    assert p.state == "done" and reg.progress(held).parked and reg.progress(held).step == at_pause.step
    assert reg.resume(held)
    _wait_for(lambda: reg.progress(held).step > at_pause.step + 20, 60)
    after = reg.progress(held)
    assert after.state == "running" and after.epoch >= at_pause.epoch
    # the same model and optimiser trained on: its loss carries on from where it was, not from the start's
    assert after.loss < 0.8 * first_loss and [s for s, _ in after.curve] == sorted(s for s, _ in after.curve)
    reg.stop(held, keep=True)
    info = load_run(reg.wait(held, 60).run_id)
    assert info.status == "stopped" and info.history.steps > at_pause.step
