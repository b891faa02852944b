"""New images from a decoder: `sample_prior` for VAEs and `manifold_grid` over a 2-D latent.

A VAE's decoder maps its N(0, I) prior to images (Kingma & Welling 2014, arXiv:1312.6114), so prior
samples show what it has learned to generate; a plain autoencoder has no prior and is refused. The
manifold grid decodes a square lattice of 2-D codes, as in Figure 4 of that paper and the Keras VAE example.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import torch
from torch import nn

from .latent import decode_codes


def sample_prior(model: nn.Module, n: int = 16, seed: int = 0, device: torch.device | str = "cpu") -> np.ndarray:
    """n images (n, C, H, W) float32 in [0, 1] decoded from z ~ N(0, I), the same for the same seed."""
    if not hasattr(model, "sample"):
        raise ValueError(
            f"{type(model).__name__} is not a variational autoencoder: it has no prior to sample from. "
            "Train a vae or conv_vae to generate new images."
        )
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    # drawn on the CPU so a seed gives the same codes on every device, as VAEMixin.sample does
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    return decode_codes(model, z.numpy(), device)


def grid_values(size: int = 15, quantile: float = 0.05, codes: np.ndarray | None = None) -> np.ndarray:
    """The (size, 2) code values along each grid axis: N(0, 1) quantiles, or the codes' own quantiles."""
    if size < 2:
        raise ValueError(f"size must be at least 2, got {size}")
    if not 0.0 < quantile < 0.5:
        raise ValueError(f"quantile must be between 0 and 0.5, got {quantile}")
    q = np.linspace(quantile, 1.0 - quantile, size)
    if codes is None:
        # Gaussian quantiles space the grid evenly in prior probability, as in the Keras VAE example
        normal = NormalDist()
        values = np.array([normal.inv_cdf(p) for p in q])
        return np.stack([values, values], axis=1).astype(np.float32)
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2 or len(codes) == 0 or not np.isfinite(codes).all():
        raise ValueError(f"codes must be a finite, non-empty (N, 2) array, got shape {codes.shape}")
    return np.quantile(codes, q, axis=0).astype(np.float32)


def manifold_grid(
    model: nn.Module, size: int = 15, quantile: float = 0.05, codes: np.ndarray | None = None,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """A (size*H, size*W) float32 mosaic ((size*H, size*W, C) for C > 1) of images decoded over a 2-D latent.

    Columns step z[0] left to right and rows step z[1] bottom to top, through the N(0, 1) quantiles
    `quantile` .. 1 - `quantile` (a VAE's prior), or through the same quantiles of `codes` (N, 2), which
    suits a plain autoencoder, whose codes are not centred on zero.
    """
    latent_dim = getattr(model, "latent_dim", None)
    if latent_dim != 2:
        raise ValueError(
            f"the manifold grid needs a 2-D latent; this model's is {latent_dim}-D. Train one with latent_dim=2."
        )
    values = grid_values(size, quantile, codes)
    zx, zy = np.meshgrid(values[:, 0], values[::-1, 1])  # row 0 is the top of the picture: the largest z[1]
    z = np.stack([zx.ravel(), zy.ravel()], axis=1)  # (size*size, 2), row by row
    images = decode_codes(model, z, device)  # (size*size, C, H, W)
    _, c, h, w = images.shape
    mosaic = images.reshape(size, size, c, h, w).transpose(0, 3, 1, 4, 2).reshape(size * h, size * w, c)
    return np.ascontiguousarray(mosaic[..., 0] if c == 1 else mosaic)
