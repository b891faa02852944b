"""One image through a model: `reconstruct_image(model, image)` gives its reconstruction, error map and scores.

Backs the Your image page: an uploaded picture (the `preview` of `aecore.images.load_user_image`) or a
test image (`pick_test_image(dataset, label)`) goes in as a plain array, and numpy arrays and floats come out.
Image conversion lives in `infer.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .config import DataConfig
from .data import load_dataset
from .infer import gray_uint8, reconstruct
from .metrics import mse, psnr


@dataclass(frozen=True, eq=False)
class ImageReconstruction:
    """An image, the model's reconstruction of it and how far apart they are per pixel, as (H, W) float32 in [0, 1]."""

    image: np.ndarray
    reconstruction: np.ndarray
    difference: np.ndarray  # |image - reconstruction| per pixel (channels averaged), 0..1
    mse: float  # mean squared difference over pixels and channels: the same MSE the test scores use
    psnr: float  # dB


def reconstruct_image(
    model: nn.Module, image: np.ndarray | Tensor, device: torch.device | str = "cpu"
) -> ImageReconstruction:
    """Run one (H, W), (C, H, W) or (1, C, H, W) image, uint8 or float in [0, 1], through the model."""
    if isinstance(image, Tensor):
        x = image.detach().cpu()
    else:  # float32 before torch sees it: Apple's MPS has no float64 tensors
        image = np.asarray(image)
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
    return ImageReconstruction(x.mean(1)[0].numpy(), x_hat.mean(1)[0].numpy(), difference.numpy(),
                               float(mse(x, x_hat)[0]), float(psnr(x, x_hat)[0]))


def pick_test_image(dataset: str, label: int, nth: int = 0) -> tuple[np.ndarray, str]:
    """The nth test image (wrapping around) of class `label` as (H, W) uint8, and the class name."""
    _, test = load_dataset(DataConfig(name=dataset))
    if not 0 <= label < len(test.classes):
        raise ValueError(f"label must be between 0 and {len(test.classes) - 1}, got {label}")
    matches = (test.y == label).nonzero().flatten()
    if len(matches) == 0:
        raise ValueError(f"the {dataset} test split has no images of class {test.classes[label]!r}")
    image = test.x[int(matches[nth % len(matches)])]
    return gray_uint8(image[None].float() / 255)[0], test.classes[label]
