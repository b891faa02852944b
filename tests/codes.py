"""Synthetic codes with a known shape (three well-separated clusters), for the tests of maps and the latent space."""

from __future__ import annotations

import numpy as np

from aecore.latent import Codes


CLASSES = ("Ankle boot", "Bag", "Coat, long")  # a comma, so the CSV must quote it


def blobs(n: int = 300, d: int = 8, seed: int = 0) -> np.ndarray:
    """Three well-separated Gaussian clusters in d dimensions, float32; point i is in cluster i % 3."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (3, d))
    return (centres[np.arange(n) % 3] + rng.normal(0, 0.5, (n, d))).astype(np.float32)


def blob_codes(n: int = 300, d: int = 8) -> Codes:
    return Codes(blobs(n, d), (np.arange(n) % 3).astype(np.int64), np.arange(n, dtype=np.int64) * 3 + 1)
