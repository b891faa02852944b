"""Shared fixtures: the shared torchvision root, tiny data, and an isolated run store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aecore.data import Split

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


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "runs"
    monkeypatch.setenv("AECORE_RUNS_DIR", str(root))
    return root
