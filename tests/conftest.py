"""Shared fixtures: the shared torchvision root, tiny data, and an isolated run store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from aecore import machine_speed
from aecore.data import Split
from aecore.presets import PRESETS

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def shared_root() -> Path:
    if not (SHARED_DATASETS / "FashionMNIST" / "raw").is_dir():
        pytest.skip(f"{SHARED_DATASETS} is not present")
    return SHARED_DATASETS


@pytest.fixture
def tiny_split() -> Split:
    """64 random-ish 28x28 images with structure (bars), so a model can learn something."""
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 28, 28)
    rows = torch.randint(2, 24, (64,), generator=g)
    for i, r in enumerate(rows.tolist()):
        x[i, 0, r:r + 4, 4:24] = 1.0
    x = (x * 255).to(torch.uint8)
    return Split(x, torch.arange(64) % 10, tuple(str(i) for i in range(10)))


@pytest.fixture(scope="session")
def machine_speed_file(tmp_path_factory) -> Path:
    """This machine's measured preset speeds, measured once per session (a few seconds)."""
    path = tmp_path_factory.mktemp("speed") / machine_speed.FILE_NAME
    machine_speed.calibrate([p.config for p in PRESETS.values()], "cpu", path)
    return path


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch, machine_speed_file) -> Path:
    """An empty run store per test, holding the session's speed measurements, as a server that has measured
    them once does: without them the Train page would measure in the training slot in every test."""
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copy(machine_speed_file, root / machine_speed.FILE_NAME)
    monkeypatch.setenv("AECORE_RUNS_DIR", str(root))
    return root
