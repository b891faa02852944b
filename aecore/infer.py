"""Running a trained model: eval mode, batched reconstruction, and float images turned into what the app draws.

`evaluating(model)` is the one eval-mode context (inference mode, training mode restored afterwards);
`reconstruct` redraws uint8 or float images; `gray_uint8` turns (n, C, H, W) floats into (n, H, W) bytes.
Training, scoring, maps, previews and every page's images use these, so each is written once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from .data import to_float


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode under `torch.inference_mode()`, its training mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield model
    finally:
        model.train(was_training)


def reconstruct(model: nn.Module, x: Tensor, device: torch.device | str = "cpu") -> Tensor:
    """Reconstructions of uint8 or float images, float in [0, 1] on the CPU."""
    with evaluating(model):
        xf = to_float(x, device) if x.dtype == torch.uint8 else x.to(device)
        return model(xf).clamp(0, 1).cpu()  # linear-output models can overshoot


def gray_uint8(x: Tensor) -> np.ndarray:
    """(n, C, H, W) float in [0, 1] to (n, H, W) uint8, channels averaged."""
    return (x.float().mean(1) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
