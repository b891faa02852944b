"""New images from a decoder: `sample_prior` for VAEs, `fit_mixture` for any model, `manifold_grid` over a 2-D latent.

A VAE's decoder maps its N(0, I) prior to images (Kingma & Welling 2014, arXiv:1312.6114), so prior
samples show what it has learned to generate; `temperature` scales the prior's spread, trading variety for
typical images. A plain autoencoder has no prior, so a Gaussian mixture fitted to the codes of its training
images stands in for one (as in Ghosh et al. 2020, arXiv:1903.12436, "From variational to deterministic
autoencoders"). Class arithmetic moves a code by the difference of two class means. The manifold grid decodes
a square lattice of 2-D codes, as in Figure 4 of Kingma & Welling and the Keras VAE example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch
from torch import nn

from .data import Split
from .latent import check_codes, decode_codes, encode_split, standardise

MAX_COMPONENTS = 50
FULL_COVARIANCE_UP_TO = 32  # longer codes get one variance per number: a full covariance costs D^2 per component


def sample_prior(model: nn.Module, n: int = 16, seed: int = 0, device: torch.device | str = "cpu",
                 temperature: float = 1.0) -> np.ndarray:
    """n images (n, C, H, W) float32 in [0, 1] decoded from z ~ N(0, temperature^2 I), the same for the same seed."""
    if not hasattr(model, "sample"):
        raise ValueError(
            f"{type(model).__name__} is not a variational autoencoder: it has no prior to sample from. "
            "Train a vae or conv_vae to generate new images."
        )
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not 0.0 < temperature <= 10.0:
        raise ValueError(f"temperature must be above 0 and at most 10, got {temperature}")
    # drawn on the CPU so a seed gives the same codes on every device, as VAEMixin.sample does
    z = torch.randn(n, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    return decode_codes(model, z.numpy() * np.float32(temperature), device)


@dataclass(frozen=True, eq=False)
class CodeMixture:
    """A Gaussian mixture over codes in plain arrays: `weights` (K,), `means` (K, D), `scales` (K, D, D) or (K, D).

    `scales` are the Cholesky factors of the covariances (lower triangular), so a sample is mean + scale @ e;
    for long codes they are one standard deviation per number (K, D), and a sample is mean + scale * e.
    """

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    converged: bool

    @property
    def components(self) -> int:
        return len(self.weights)


def fit_mixture(z: np.ndarray, components: int = 10, seed: int = 0,
                on_progress: Callable[[float, str], None] | None = None) -> CodeMixture:
    """A Gaussian mixture of `components` bell curves fitted to codes (N, D) by EM (scikit-learn), seeded."""
    from sklearn.mixture import GaussianMixture  # 0.9 s to import: `import aecore` stays light without it
    from threadpoolctl import threadpool_limits

    report = on_progress or (lambda fraction, message: None)
    z = check_codes(z)
    if not 1 <= components <= MAX_COMPONENTS:
        raise ValueError(f"components must be between 1 and {MAX_COMPONENTS}, got {components}")
    if len(z) < 2 * components:
        raise ValueError(f"{components} components need at least {2 * components} codes, got {len(z)}")
    # fitted on centred codes of unit overall spread, so reg_covar means the same for codes of any size
    scaled, spread, _ = standardise(z)
    centre = z.astype(np.float64).mean(axis=0)
    d = z.shape[1]
    kind = "full" if d <= FULL_COVARIANCE_UP_TO else "diag"
    report(0.0, f"fitting {components} bell curves to {len(z):,} codes")
    gmm = GaussianMixture(components, covariance_type=kind, random_state=seed, reg_covar=1e-4, max_iter=100)
    with threadpool_limits(1):  # EM's many small matrix products run 10-100x slower across busy BLAS threads
        gmm.fit(scaled)
    chol = np.linalg.cholesky(gmm.covariances_) if kind == "full" else np.sqrt(gmm.covariances_)
    report(1.0, "done")
    return CodeMixture(gmm.weights_.astype(np.float32), (gmm.means_ * spread + centre).astype(np.float32),
                       (chol * spread).astype(np.float32), bool(gmm.converged_))


def mixture_of_codes(model: nn.Module, split: Split, components: int = 10, seed: int = 0, n: int = 5000,
                     device: torch.device | str = "cpu",
                     on_progress: Callable[[float, str], None] | None = None) -> CodeMixture:
    """`fit_mixture` on the codes of n seeded images of the split (the training images, for generation)."""
    report = on_progress or (lambda fraction, message: None)
    report(0.0, f"reading the codes of {min(n, len(split)):,} training images")
    z = encode_split(model, split, n=n, device=device, seed=seed).z
    return fit_mixture(z, components, seed, lambda f, m: report(0.2 + 0.8 * f, m))


def sample_mixture(mixture: CodeMixture, n: int = 16, seed: int = 0) -> np.ndarray:
    """n codes (n, D) float32 drawn from the mixture, the same for the same seed."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    weights = mixture.weights.astype(np.float64)
    picks = rng.choice(mixture.components, size=n, p=weights / weights.sum())
    e = rng.standard_normal((n, mixture.means.shape[1])).astype(np.float32)
    scales = mixture.scales[picks]
    spread = scales * e if scales.ndim == 2 else np.einsum("nij,nj->ni", scales, e)
    return (mixture.means[picks] + spread).astype(np.float32)


def class_means(z: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """The mean code (classes, D) float32 of each class; NaN rows for classes with no codes."""
    z = check_codes(z)
    labels = np.asarray(labels)
    if labels.shape != (len(z),):
        raise ValueError(f"labels must be one per code ({len(z)}), got shape {labels.shape}")
    sums = np.zeros((classes, z.shape[1]), np.float64)
    np.add.at(sums, labels, z)
    counts = np.bincount(labels, minlength=classes)[:classes].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts[:, None]).astype(np.float32)


def shift_codes(z: np.ndarray, mean_a: np.ndarray, mean_b: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Codes (len(amounts), D): z + t (mean_b - mean_a) for each t, so t = 1 moves z from class A towards B."""
    z, mean_a, mean_b = (np.asarray(v, np.float32).ravel() for v in (z, mean_a, mean_b))
    if not z.shape == mean_a.shape == mean_b.shape:
        raise ValueError(f"the code and the class means differ in size: {z.shape[0]}, {mean_a.shape[0]}, "
                         f"{mean_b.shape[0]}")
    if not (np.isfinite(mean_a).all() and np.isfinite(mean_b).all()):
        raise ValueError("a class mean is missing: no codes of that class were given")
    t = np.asarray(amounts, np.float32).reshape(-1, 1)
    return z + t * (mean_b - mean_a)


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
