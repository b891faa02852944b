"""Reconstruction quality per image, and `evaluate(model, split)` that averages it over a test split.

Every metric is a pure, vectorised torch function: `(B, C, H, W)` in [0, 1] goes in, `(B,)` comes out,
so a whole test split is scored in a few batched calls instead of a Python loop over images.
SSIM follows Wang et al. 2004 (doi:10.1109/TIP.2003.819861) and matches
`skimage.metrics.structural_similarity(a, b, **SKIMAGE_SSIM_KWARGS)` (`channel_axis` for C > 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import Split, to_float
from .infer import evaluating

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # scipy's gaussian_filter radius int(3.5 * 1.5 + 0.5) = 5, so an 11-tap window
SSIM_WIN = 2 * int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5) + 1
SSIM_K1, SSIM_K2 = 0.01, 0.03
# The skimage call `ssim` reproduces; with gaussian_weights=True skimage itself fixes truncate=3.5,
# which makes its filter and its border crop 11 wide.
SKIMAGE_SSIM_KWARGS: dict[str, object] = {
    "data_range": 1.0, "gaussian_weights": True, "sigma": SSIM_SIGMA, "win_size": SSIM_WIN,
    "use_sample_covariance": False, "K1": SSIM_K1, "K2": SSIM_K2,
}
ELBO_LOGS = ("recon", "kl", "elbo")


def mse(x: Tensor, x_hat: Tensor) -> Tensor:
    """Mean squared error per image."""
    return (x - x_hat).pow(2).flatten(1).mean(dim=1)


def mae(x: Tensor, x_hat: Tensor) -> Tensor:
    """Mean absolute error per image."""
    return (x - x_hat).abs().flatten(1).mean(dim=1)


def psnr(x: Tensor, x_hat: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image in dB; identical images give 120 dB, not inf."""
    return 10 * torch.log10(data_range**2 / mse(x, x_hat).clamp_min(1e-12))


def _gaussian_window(device: torch.device, dtype: torch.dtype) -> Tensor:
    # computed in float64 by numpy on the host, sent as float32: Apple's MPS has no float64 tensors
    r = np.arange(SSIM_WIN, dtype=np.float64) - SSIM_WIN // 2
    w = np.exp(-0.5 * (r / SSIM_SIGMA) ** 2)
    return torch.from_numpy((w / w.sum()).astype(np.float32)).to(device=device, dtype=dtype)  # (SSIM_WIN,)


def ssim(x: Tensor, x_hat: Tensor, data_range: float = 1.0) -> Tensor:
    """Mean structural similarity per image (Gaussian window 11, sigma 1.5), averaged over channels."""
    B, C, H, W = x.shape
    if min(H, W) < SSIM_WIN:
        raise ValueError(f"SSIM needs images of at least {SSIM_WIN}x{SSIM_WIN}, got {H}x{W}")
    # Filter all five moments in one grouped conv. A 'valid' conv is exactly skimage's crop of
    # (win - 1) // 2 pixels: the kept pixels never reach into its reflect padding.
    stats = torch.cat([x, x_hat, x * x, x_hat * x_hat, x * x_hat], dim=1)  # (B, 5C, H, W)
    w = _gaussian_window(x.device, x.dtype)
    stats = F.conv2d(stats, w.view(1, 1, -1, 1).expand(5 * C, 1, -1, 1), groups=5 * C)
    stats = F.conv2d(stats, w.view(1, 1, 1, -1).expand(5 * C, 1, 1, -1), groups=5 * C)
    ux, uy, uxx, uyy, uxy = stats.chunk(5, dim=1)  # each (B, C, H - 10, W - 10)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.flatten(1).mean(dim=1)


def pixel_accuracy(x: Tensor, x_hat: Tensor, threshold: float = 0.5) -> Tensor:
    """Share of pixels on the same side of the threshold in both images, per image."""
    return ((x > threshold) == (x_hat > threshold)).flatten(1).float().mean(dim=1)


METRICS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "mse": mse, "mae": mae, "psnr": psnr, "ssim": ssim, "pixel_acc": pixel_accuracy,
}
HIGHER_IS_BETTER = {"psnr", "ssim", "pixel_acc"}


def per_image_metrics(x: Tensor, x_hat: Tensor) -> dict[str, Tensor]:
    """Every metric in METRICS, each `(B,)`."""
    return {name: fn(x, x_hat) for name, fn in METRICS.items()}


def _scan(
    model: nn.Module, split: Split, device: torch.device | str, batch_size: int, with_loss: bool
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Per-image metrics over the split, and (with_loss) the image-weighted mean of the ELBO logs."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    parts: dict[str, list[Tensor]] = {name: [] for name in METRICS}
    sums: dict[str, float] = {}
    want_loss = with_loss and hasattr(model, "loss")
    # the ELBO needs a sampled z: a generator of the scan's own, seeded the same each time, makes scores
    # repeatable and leaves torch's global generator (shared with every other thread) alone
    gen = torch.Generator(device=device).manual_seed(0)
    with evaluating(model):
        for start in range(0, len(split), batch_size):
            x = to_float(split.x[start:start + batch_size], device)
            x_hat = model(x).clamp(0.0, 1.0)  # linear-output models can overshoot
            for name, value in per_image_metrics(x, x_hat).items():
                parts[name].append(value.float().cpu())
            if want_loss:
                _, logs = model.loss(x, x, gen)
                want_loss = "kl" in logs  # only VAEs have an ELBO worth a second pass
                for key in ELBO_LOGS:
                    if want_loss and key in logs:
                        sums[key] = sums.get(key, 0.0) + float(torch.as_tensor(logs[key]).mean()) * len(x)
    per_image = {name: torch.cat(v).numpy() if v else np.zeros(0, np.float32) for name, v in parts.items()}
    vae_logs = {key: total / len(split) for key, total in sums.items()}
    if "elbo" not in vae_logs and {"recon", "kl"} <= vae_logs.keys():
        vae_logs["elbo"] = -(vae_logs["recon"] + vae_logs["kl"])  # log p(x|z) - KL, without the training-time beta
    return per_image, vae_logs


def evaluate_per_image(
    model: nn.Module, split: Split, device: torch.device | str = "cpu", batch_size: int = 500
) -> dict[str, np.ndarray]:
    """Every metric for every image of the split, `(N,)` float32 arrays in split order."""
    return _scan(model, split, device, batch_size, with_loss=False)[0]


def evaluate(
    model: nn.Module, split: Split, device: torch.device | str = "cpu", batch_size: int = 500,
    max_images: int = 0,
) -> dict[str, float]:
    """Mean of every metric over the split (the first max_images; 0 = all), plus recon/kl/elbo for VAEs.

    A model counts as a VAE when `model.loss(x, x)` logs "kl"; its per-image "recon" and "kl" logs are
    averaged over images, and "elbo" is taken from the logs or else is -(recon + kl).
    """
    if max_images:
        split = split.take(slice(0, max_images))
    return evaluate_with_images(model, split, device, batch_size)[0]


def evaluate_with_images(
    model: nn.Module, split: Split, device: torch.device | str = "cpu", batch_size: int = 500
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """`evaluate`'s means and `evaluate_per_image`'s arrays from one pass over the split."""
    if len(split) == 0:
        raise ValueError("cannot evaluate on an empty split")
    per_image, vae_logs = _scan(model, split, device, batch_size, with_loss=True)
    # accumulate in float64 so the mean of many float32 values does not drift
    return {name: float(v.mean(dtype=np.float64)) for name, v in per_image.items()} | vae_logs, per_image


def error_maps(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """|x - x_hat| per pixel, float32 in [0, 1], for uint8 images of equal shape."""
    if x.shape != x_hat.shape:
        raise ValueError(f"images {x.shape} and reconstructions {x_hat.shape} differ in shape")
    return np.abs(x.astype(np.float32) - x_hat.astype(np.float32)) / 255.0


def summarise(per_image: dict[str, np.ndarray]) -> dict[str, float]:
    """The mean of each per-image score (accumulated in float64), as `evaluate` reports them."""
    return {name: float(np.mean(v, dtype=np.float64)) for name, v in per_image.items() if len(v)}


def errors_by_class(errors: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Errors grouped by class name, in class order; classes without images are left out."""
    errors, labels = np.asarray(errors), np.asarray(labels)
    if errors.shape != labels.shape:
        raise ValueError(f"errors {errors.shape} and labels {labels.shape} differ in shape")
    return {name: errors[labels == i] for i, name in enumerate(classes) if (labels == i).any()}


def class_means(values: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """The mean value per class name, in class order; classes without images are left out."""
    return {name: float(v.mean(dtype=np.float64)) for name, v in errors_by_class(values, labels, classes).items()}


def best_index(values: Sequence[float], higher_is_better: bool) -> int | None:
    """Position of the best value (the first on a tie), ignoring NaN; None when there is none."""
    v = np.asarray(values, np.float64)
    if v.size == 0 or np.isnan(v).all():
        return None
    return int(np.nanargmax(v) if higher_is_better else np.nanargmin(v))
