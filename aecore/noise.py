"""Input corruption for denoising training and the Denoise page: `corrupt(x, kind, level)`.

Gaussian noise (Vincent et al. 2008 used masking; Gaussian is the tutorial favourite),
salt-and-pepper, and masking noise that zeroes a share of pixels. Output stays in [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor

from .config import NOISE_KINDS


def corrupt(x: Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> Tensor:
    """A noisy copy of `x` (float in [0, 1]); `level` is the std (gaussian) or the share of pixels hit."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise {kind!r}; choose one of: {', '.join(NOISE_KINDS)}")
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"noise level must be between 0 and 1, got {level!r}")
    if kind == "none" or level == 0.0:
        return x
    if kind == "gaussian":
        return (x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)).clamp_(0, 1)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    hit = u < level
    if kind == "mask":
        return x.masked_fill(hit, 0.0)
    salt = u < level / 2  # half of the hit pixels go white, half black
    return torch.where(hit, salt.to(x.dtype), x)
