"""Pausing work: the executor holds it at its next should_stop, in its slot; a paused training job resumes where
it was, with its model, optimiser and step count, and ends exactly as the same job trained without a pause."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from aecore.background import Executor
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.jobs import JobRegistry
from aecore.store.runs import load_model

# about 500 batches of a small convolutional model (1-2 s here): a pause sent after the first lands long before
# the end, even on a loaded machine (68 batches of an MLP once ended, in CI, before the pause reached them)
JOB = RunConfig(DataConfig(limit_train=3000, limit_test=50), ModelConfig(kind="conv_ae", latent_dim=8, hidden=(32, 64)),
                TrainConfig(epochs=3, batch_size=16, patience=0))


def until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def counting(count: list[int], limit: int = 10_000):
    """Work that counts its checks of should_stop, as a training loop checks once per batch."""
    def work(ctx):
        while count[0] < limit and not ctx.should_stop():
            count[0] += 1
            time.sleep(0.001)
        return count[0]
    return work


def test_paused_work_holds_its_place_and_its_slot_then_resumes():
    ex, count = Executor({"train": 1, "compute": 1}), [0]
    work_id = ex.submit(counting(count, limit=300), "train")
    until(lambda: count[0] > 5)
    assert ex.pause(work_id) and ex.snapshot(work_id).state == "paused"
    held = count[0]
    time.sleep(0.3)
    assert count[0] - held <= 1  # at most the check already under way
    waiting = ex.submit(counting([0], limit=1), "train")
    time.sleep(0.1)
    assert ex.snapshot(waiting).state == "queued"  # the paused work still holds the one training slot
    assert not ex.pause(work_id)  # already paused
    assert ex.resume(work_id) and ex.snapshot(work_id).state in ("running", "done")
    assert ex.wait(work_id, 30).result == 300
    assert ex.wait(waiting, 30).state == "done"
    assert not ex.resume(work_id) and not ex.pause(work_id)  # finished work cannot be paused


def test_stop_ends_paused_work_and_queued_work_cannot_be_paused():
    ex, count = Executor({"train": 1, "compute": 1}), [0]
    work_id = ex.submit(counting(count), "train")
    queued = ex.submit(counting([0]), "train")
    until(lambda: count[0] > 2)
    assert not ex.pause(queued) and ex.snapshot(queued).state == "queued"
    assert ex.pause(work_id)
    ex.stop(work_id)
    assert ex.wait(work_id, 10).state == "stopped"
    ex.stop(queued)


def held_still(reg: JobRegistry, job_id: str, seconds: float = 0.6) -> bool:
    """Whether the job's step stayed the same for `seconds`: its worker is held between batches, and the batch
    under way when the pause came has landed."""
    before = reg.progress(job_id).step
    time.sleep(seconds)
    return reg.progress(job_id).step == before


def weights(run_id: str) -> dict[str, torch.Tensor]:
    return load_model(run_id).state_dict()


def test_a_paused_job_keeps_its_step_and_ends_as_an_unpaused_one(runs_dir):
    reg = JobRegistry(executor=Executor({"train": 1, "compute": 1}))
    plain = reg.wait(reg.start(JOB), timeout=300)
    assert plain.state == "done"

    job_id = reg.start(JOB)
    until(lambda: reg.progress(job_id).step >= 1)
    assert reg.pause(job_id)
    until(lambda: reg.progress(job_id).state == "paused")
    until(lambda: held_still(reg, job_id))  # the batch under way when the pause came lands first
    held = reg.progress(job_id).step
    time.sleep(1.0)
    p = reg.progress(job_id)
    assert p.state == "paused" and not p.finished and p.step == held < p.total_steps
    assert reg.resume(job_id)
    done = reg.wait(job_id, timeout=300)
    assert done.state == "done" and done.step == done.total_steps == plain.step
    # the same seed trained to the same weights: the optimiser's moments and the batch order survived the pause
    a, b = weights(plain.run_id), weights(done.run_id)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [e["train_loss"] for e in done.epochs] == [e["train_loss"] for e in plain.epochs]


def test_pause_and_resume_of_unknown_or_queued_jobs():
    reg = JobRegistry(executor=Executor({"train": 1, "compute": 1}))
    try:
        reg.pause("nope")
    except KeyError:
        pass
    else:
        raise AssertionError("an unknown job must raise KeyError")
    gate = threading.Event()
    blocker = reg.executor.submit(lambda ctx: gate.wait(10), "train")
    job_id = reg.start(JOB)
    assert not reg.pause(job_id) and reg.progress(job_id).state == "queued"
    reg.stop(job_id)
    gate.set()
    reg.executor.wait(blocker, 10)


def test_a_pause_counts_in_neither_the_training_time_nor_the_images_per_second():
    """A paused job waits inside should_stop; that wait is not training, so fit's clock leaves it out."""
    from aecore.data import load_dataset
    from aecore.models import build_model
    from aecore.train import fit

    train, _ = load_dataset(DataConfig(limit_train=1200))
    cfg = TrainConfig(epochs=1, batch_size=100, patience=0, val_fraction=0.0)
    asked, speeds = [0], []

    def should_stop() -> bool:  # held for 1.5 s at the fifth batch, as a pause holds it
        asked[0] += 1
        if asked[0] == 5:
            time.sleep(1.5)
        return False

    model = build_model(ModelConfig(latent_dim=8), train.shape, seed=0)
    began = time.perf_counter()
    history = fit(model, train, None, cfg, "cpu", on_step=lambda e: speeds.append(e.images_per_sec), should_stop=should_stop)
    wall = time.perf_counter() - began
    assert history.steps == 12 and asked[0] == 12
    assert history.seconds <= wall - 1.45, (history.seconds, wall)
    assert history.epochs[0]["seconds"] <= history.seconds
    assert history.images_per_sec == pytest.approx(1200 / history.seconds, rel=1e-6)
    assert speeds[-1] > 1200 / (wall - 1.4)  # the live speed leaves the pause out too
