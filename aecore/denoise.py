"""Denoising shown and scored: `denoise_demo(model, split, kind, level)` corrupts test images, rebuilds and scores them;
`denoising_scores` scores a whole split that way: how a denoising model is measured on its own task.

The same seed gives the same images and the same noise, so two models on one dataset are compared on
identical inputs. PSNR before (noisy vs clean) and after (reconstruction vs clean) is averaged over a
seeded subset of the test split, large enough that the figures do not jump with the shown images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .config import NOISE_KINDS
from .data import Split, to_float
from .metrics import mse, psnr, ssim
from .noise import corrupt
from .infer import image_uint8, reconstruct


@dataclass(frozen=True, eq=False)
class DenoiseDemo:
    """Shown images as grey (n, H, W) or colour (n, H, W, 3) uint8, their PSNR in dB, and the means over every scored image."""

    clean: np.ndarray
    noisy: np.ndarray
    reconstructed: np.ndarray
    psnr_noisy: np.ndarray  # (n,) noisy vs clean, of the shown images
    psnr_reconstructed: np.ndarray  # (n,) reconstruction vs clean, of the shown images
    mean_psnr_noisy: float  # over all `scored` images
    mean_psnr_reconstructed: float
    scored: int

    @property
    def gain(self) -> float:
        """How many dB the model adds: positive when its output is closer to the clean image than its input."""
        return self.mean_psnr_reconstructed - self.mean_psnr_noisy


def denoise_demo(
    model: nn.Module, split: Split, kind: str, level: float, n_show: int = 8, n_score: int = 500, seed: int = 0,
    device: torch.device | str = "cpu",
) -> DenoiseDemo:
    """Corrupt `n_score` seeded test images with `kind` noise at `level`, rebuild and score them; show `n_show`."""
    if kind not in NOISE_KINDS or kind == "none":
        raise ValueError(f"unknown noise {kind!r}; choose one of: {', '.join(k for k in NOISE_KINDS if k != 'none')}")
    if n_show < 1 or n_score < n_show:
        raise ValueError(f"need 1 <= n_show <= n_score, got n_show={n_show}, n_score={n_score}")
    if len(split) == 0:
        raise ValueError("cannot denoise an empty split")
    rng = np.random.default_rng(seed)
    indices = rng.permutation(len(split))[:n_score]
    clean = to_float(split.x[torch.from_numpy(indices)])  # (n, C, H, W), on the CPU so the noise is device-independent
    noisy = corrupt(clean, kind, level, torch.Generator().manual_seed(seed))
    rebuilt = torch.cat([reconstruct(model, noisy[i:i + 500], device) for i in range(0, len(noisy), 500)])
    before, after = psnr(clean, noisy).numpy(), psnr(clean, rebuilt).numpy()
    n = min(n_show, len(clean))
    # means accumulate in float64 in numpy: no float64 tensor, which Apple's MPS lacks
    return DenoiseDemo(
        image_uint8(clean[:n]), image_uint8(noisy[:n]), image_uint8(rebuilt[:n]),
        before[:n], after[:n],
        float(before.mean(dtype=np.float64)), float(after.mean(dtype=np.float64)), len(clean),
    )


def noisy_images(split: Split, kind: str, level: float, seed: int = 0) -> torch.Tensor:
    """Every image of the split as float with seeded `kind` noise at `level`, drawn on the CPU."""
    return corrupt(to_float(split.x), kind, level, torch.Generator().manual_seed(seed))


def denoising_scores(model: nn.Module, split: Split, kind: str, level: float, seed: int = 0,
                     device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean MSE and SSIM of the model's output from `noisy_images` of the split, against the clean images."""
    clean = to_float(split.x)
    rebuilt = torch.cat([reconstruct(model, x, device) for x in noisy_images(split, kind, level, seed).split(500)])
    return {"mse": float(mse(clean, rebuilt).mean()), "ssim": float(ssim(clean, rebuilt).mean())}
