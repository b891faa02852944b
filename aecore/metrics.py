"""Reconstruction quality per image: pure, vectorised functions that import nothing of aecore.

Every metric is a torch function: `(B, C, H, W)` in [0, 1] goes in, `(B,)` comes out, so a whole test split
is scored in a few batched calls instead of a Python loop over images (`aecore.scoring` does the scoring).
SSIM follows Wang et al. 2004 (doi:10.1109/TIP.2003.819861) and matches
`skimage.metrics.structural_similarity(a, b, **SKIMAGE_SSIM_KWARGS)` (`channel_axis` for C > 1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

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


def error_maps(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """|x - x_hat| per pixel, float32 in [0, 1], for uint8 grey (n, H, W) or colour (n, H, W, 3) images of equal
    shape; a colour pixel's error is its channels' mean, so every map is (n, H, W)."""
    if x.shape != x_hat.shape:
        raise ValueError(f"images {x.shape} and reconstructions {x_hat.shape} differ in shape")
    error = np.abs(x.astype(np.float32) - x_hat.astype(np.float32)) / 255.0
    return error.mean(-1) if error.ndim == 4 else error


def best_index(values: Sequence[float], higher_is_better: bool) -> int | None:
    """Position of the best value (the first on a tie), ignoring NaN; None when there is none."""
    v = np.asarray(values, np.float64)
    if v.size == 0 or np.isnan(v).all():
        return None
    return int(np.nanargmax(v) if higher_is_better else np.nanargmin(v))
