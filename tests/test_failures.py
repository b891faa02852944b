"""A real full disk (a small tmpfs, filled up): every message names the disk, not permissions or settings.

Mounting needs root; where the tests run without it, these are skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path

import pytest
from apptest import open_page, texts

import aecore.background
import aecore.jobs
from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.store.runs import RunError
from aecore.train import train_run

ROOT = Path(__file__).resolve().parents[1]
SMALL = RunConfig(DataConfig(name="digits", limit_train=128, limit_test=32), ModelConfig(latent_dim=4, hidden=(8,)),
                  TrainConfig(epochs=1, max_steps=2, val_fraction=0.0, patience=0), name="small")


@pytest.fixture
def disk(tmp_path) -> Path:
    """A 1 MB tmpfs mounted at a fresh folder; unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> None:
    """Write until the disk refuses: from here on every write fails with ENOSPC."""
    with open(disk / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_rename_and_save_on_a_full_disk_say_the_disk_is_full(disk):
    result = train_run(SMALL, device="cpu")
    info = runs.save_run(result, root=disk)
    fill(disk)
    with pytest.raises(RunError) as err:
        runs.rename_run(info.id, "a new name", root=disk)
    assert "the disk is full" in str(err.value) and "permissions" not in str(err.value)
    assert runs.load_run(info.id, disk).name == "small"  # nothing half-written
    with pytest.raises(RunError) as err:
        runs.save_run(result, root=disk)
    assert "the disk is full" in str(err.value)
    assert [r.id for r in runs.list_runs(disk)] == [info.id]


def test_a_job_whose_save_meets_a_full_disk_says_so_on_the_train_page(disk, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_RUNS_DIR", str(disk))
    monkeypatch.setattr(aecore.jobs, "_registry", None)
    monkeypatch.setattr(aecore.background, "_executor", None)
    fill(disk)
    job_id = aecore.jobs.start(dataclasses.replace(SMALL, train=dataclasses.replace(SMALL.train, max_steps=0)))
    deadline = time.monotonic() + 120
    while not (p := aecore.jobs.progress(job_id)).finished:
        assert time.monotonic() < deadline, p
        time.sleep(0.1)
    assert p.state == "failed" and "the disk is full" in p.advice, p
    at = open_page("pages/train.py", query={"job": job_id})
    shown = texts(at.error)
    assert "the disk is full" in shown and "Check the settings" not in shown, shown
