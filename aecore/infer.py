"""Running a trained model: eval mode, batched reconstruction, and float images turned into what the app draws.

`evaluating(model)` is the one eval-mode context (inference mode, training mode restored afterwards);
`reconstruct` redraws uint8 or float images; `image_uint8` turns (n, C, H, W) floats into (n, H, W) bytes;
`reconstruct_images` redraws a split's images as bytes, and `reconstruct_image` one image of any kind (a
test image or an upload) with its error map and scores.
Training, scoring, maps, previews and every page's images use these, so each is written once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .data import Split, to_float
from .metrics import mse, psnr


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


def unit_range(x_hat: Tensor) -> Tensor:
    """A model's output clipped to [0, 1]: linear-output (clamp) models can overshoot, and scores and pictures
    need the range an image has."""
    return x_hat.clamp(0.0, 1.0)


def reconstruct(model: nn.Module, x: Tensor, device: torch.device | str = "cpu") -> Tensor:
    """Reconstructions of uint8 or float images, float in [0, 1] on the CPU."""
    with evaluating(model):
        xf = to_float(x, device) if x.dtype == torch.uint8 else x.to(device)
        return unit_range(model(xf)).cpu()


def image_uint8(x: Tensor | np.ndarray) -> np.ndarray:
    """Float images in [0, 1] as uint8 to show: (n, 1, H, W) to grey (n, H, W), (n, 3, H, W) to colour (n, H, W, 3);
    other shapes kept; NaN is 0."""
    x = torch.as_tensor(x).float()
    return display_layout((x.nan_to_num(0.0) * 255).round().clamp(0, 255).to(torch.uint8))


def display_layout(x: Tensor) -> np.ndarray:
    """uint8 images (n, C, H, W) as pictures are shown: grey (n, H, W) for one channel, colour (n, H, W, 3) for
    three (any other channel count is averaged to grey); other shapes kept."""
    if x.ndim != 4:
        return x.numpy()
    if x.shape[1] == 3:
        return x.permute(0, 2, 3, 1).contiguous().numpy()
    if x.shape[1] == 1:
        return x[:, 0].numpy()
    return x.float().mean(1).round().to(torch.uint8).numpy()


def reconstruct_images(
    model: nn.Module, split: Split, indices: np.ndarray, device: torch.device | str = "cpu"
) -> np.ndarray:
    """The model's reconstructions of the split's images at `indices`, uint8 as `image_uint8` shows them."""
    idx = torch.as_tensor(np.asarray(indices, np.int64))
    if len(idx) == 0:
        return display_layout(split.x[:0])
    return image_uint8(reconstruct(model, split.x[idx], device))  # from (n, C, H, W) float in [0, 1]


@dataclass(frozen=True, eq=False)
class ImageReconstruction:
    """An image and the model's reconstruction of it, grey (H, W) or colour (H, W, 3) float32 in [0, 1], and how far
    apart they are per pixel, (H, W)."""

    image: np.ndarray
    reconstruction: np.ndarray
    difference: np.ndarray  # |image - reconstruction| per pixel (channels averaged), 0..1
    mse: float  # mean squared difference over pixels and channels: the same MSE the test scores use
    psnr: float  # dB


def reconstruct_image(
    model: nn.Module, image: np.ndarray | Tensor, device: torch.device | str = "cpu"
) -> ImageReconstruction:
    """Run one (H, W), colour (H, W, 3), (C, H, W) or (1, C, H, W) image, uint8 or float in [0, 1], through the
    model."""
    if isinstance(image, Tensor):
        x = image.detach().cpu()
    else:  # float32 before torch sees it: Apple's MPS has no float64 tensors
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[-1] == 3 and image.shape[0] != 3:  # a colour picture as it is shown
            image = np.ascontiguousarray(image.transpose(2, 0, 1))
        x = torch.as_tensor(image if image.dtype == np.uint8 else image.astype(np.float32))
    x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float()
    while x.ndim < 4:
        x = x.unsqueeze(0)  # (1, C, H, W)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image, (H, W), (C, H, W) or (1, C, H, W), got shape {tuple(np.shape(image))}")
    if not torch.isfinite(x).all() or float(x.min()) < 0.0 or float(x.max()) > 1.0:
        raise ValueError("image values must be uint8, or floats between 0 and 1")
    shape = tuple(getattr(model, "image_shape", x.shape[1:]))
    if tuple(x.shape[-2:]) != shape[-2:]:
        raise ValueError(f"this model takes {shape[-2]}x{shape[-1]}-pixel images; the image is "
                         f"{x.shape[-2]}x{x.shape[-1]}")
    if x.shape[1] != shape[0]:
        x = x.mean(1, keepdim=True).expand(1, shape[0], *x.shape[-2:])  # grayscale to the model's channels
    x_hat = reconstruct(model, x, device)
    difference = (x - x_hat).abs().mean(1)[0]  # (H, W)
    shown = (lambda t: t[0, 0].numpy()) if shape[0] == 1 else (lambda t: t[0].permute(1, 2, 0).numpy())
    return ImageReconstruction(shown(x), shown(x_hat), difference.numpy(),
                               float(mse(x, x_hat)[0]), float(psnr(x, x_hat)[0]))
