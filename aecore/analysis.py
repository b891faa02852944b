"""The numbers behind the app's Compare and Latent space pages, as plain numpy arrays.

`pick_images` chooses the same seeded test images for every model, `images_at` and `reconstruct_images`
give them and each model's attempt as uint8 pictures, `error_maps` the per-pixel difference, and
`summarise`, `class_means` and `best_index` turn `evaluate_per_image`'s scores into a table's cells.
`strip_points` lays a one-number code out as a map.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .anomaly import errors_by_class
from .data import Split
from .infer import reconstruct


def pick_images(labels: np.ndarray, n: int, seed: int = 0, label: int | None = None) -> np.ndarray:
    """Split indices (at most n, sorted) drawn without replacement, seeded, from one class or (None) from all."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    labels = np.asarray(labels)
    pool = np.arange(len(labels)) if label is None else np.flatnonzero(labels == label)
    if len(pool) <= n:
        return pool.astype(np.int64)
    return np.sort(np.random.default_rng(seed).choice(pool, size=n, replace=False)).astype(np.int64)


def images_at(split: Split, indices: np.ndarray) -> np.ndarray:
    """The split's images at `indices` as (n, H, W) uint8 (the first channel)."""
    idx = torch.as_tensor(np.asarray(indices, np.int64))
    return split.x[idx, 0].numpy()


def reconstruct_images(
    model: nn.Module, split: Split, indices: np.ndarray, device: torch.device | str = "cpu"
) -> np.ndarray:
    """The model's reconstructions of the split's images at `indices`, (n, H, W) uint8 (the first channel)."""
    idx = torch.as_tensor(np.asarray(indices, np.int64))
    if len(idx) == 0:
        return np.zeros((0, *split.shape[1:]), np.uint8)
    x_hat = reconstruct(model, split.x[idx], device)  # (n, C, H, W) float in [0, 1]
    return (x_hat[:, 0] * 255).round().to(torch.uint8).numpy()


def error_maps(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """|x - x_hat| per pixel, float32 in [0, 1], for uint8 images of equal shape."""
    if x.shape != x_hat.shape:
        raise ValueError(f"images {x.shape} and reconstructions {x_hat.shape} differ in shape")
    return np.abs(x.astype(np.float32) - x_hat.astype(np.float32)) / 255.0


def summarise(per_image: dict[str, np.ndarray]) -> dict[str, float]:
    """The mean of each per-image score (accumulated in float64), as `evaluate` reports them."""
    return {name: float(np.mean(v, dtype=np.float64)) for name, v in per_image.items() if len(v)}


def class_means(values: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """The mean value per class name, in class order; classes without images are left out."""
    return {name: float(v.mean(dtype=np.float64)) for name, v in errors_by_class(values, labels, classes).items()}


def best_index(values: Sequence[float], higher_is_better: bool) -> int | None:
    """Position of the best value (the first on a tie), ignoring NaN; None when there is none."""
    v = np.asarray(values, np.float64)
    if v.size == 0 or np.isnan(v).all():
        return None
    return int(np.nanargmax(v) if higher_is_better else np.nanargmin(v))


def strip_points(z: np.ndarray, seed: int = 0) -> np.ndarray:
    """A one-number code (N, 1) as (N, 2) map points: the code across, a seeded jitter in [-1, 1] up."""
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != 1:
        raise ValueError(f"strip_points takes (N, 1) codes, got shape {z.shape}")
    jitter = np.random.default_rng(seed).uniform(-1.0, 1.0, len(z)).astype(np.float32)
    return np.column_stack([z[:, 0], jitter])
