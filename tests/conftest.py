"""Shared fixtures: the shared torchvision root, tiny data, and an isolated run store."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory) -> Iterator[Path]:
    """One cache folder for the session, shared with the app servers the browser tests start, holding this
    machine's preset speeds, measured once (a few seconds): without them every fresh Train page would measure
    them in the training slot."""
    folder = tmp_path_factory.mktemp("cache")
    before = os.environ.get("AECORE_CACHE_DIR")
    os.environ["AECORE_CACHE_DIR"] = str(folder)
    machine_speed.calibrate([p.config for p in PRESETS.values()], "cpu")
    yield folder
    if before is None:
        os.environ.pop("AECORE_CACHE_DIR", None)
    else:
        os.environ["AECORE_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("AECORE_RUNS_DIR", str(root))
    return root
