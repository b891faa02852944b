"""One image through a linear autoencoder (PCA): the Home page's first look at what a code is.

`code_example(name)` fits PCA, the best linear autoencoder (Baldi & Hornik 1989, doi:10.1016/0893-6080(89)90014-2),
to training images and encodes one test image to a few numbers and back, so a newcomer sees an image, its code
and its reconstruction before any network is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import DataConfig
from .data import load_dataset


@dataclass(frozen=True, eq=False)
class CodeExample:
    """One image, its code and its reconstruction through a linear autoencoder."""

    image: np.ndarray  # (H, W) uint8, a test image
    code: np.ndarray  # (D,) float32, its coordinates along the top D principal components
    reconstruction: np.ndarray  # (H, W) uint8, decoded from `code` alone
    label: str  # class name of the image


def code_example(name: str, label: int = 0, code_size: int = 8, fit_images: int = 2000) -> CodeExample:
    """The first test image of class `label`, encoded to `code_size` numbers by PCA fitted on training images."""
    train, test = load_dataset(DataConfig(name=name, limit_train=fit_images))
    if not 1 <= code_size <= min(len(train), train.x[0].numel()):
        raise ValueError(f"code_size must be between 1 and {min(len(train), train.x[0].numel())}, got {code_size}")
    matches = (test.y == label).nonzero().flatten()
    if len(matches) == 0:
        raise ValueError(f"class {label} has no test image in {name}; choose one of 0..{len(test.classes) - 1}")
    H, W = train.x.shape[-2:]
    x = train.x[:, 0].reshape(len(train), -1).numpy().astype(np.float32) / 255  # (N, H*W)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    components = vt[:code_size]  # (D, H*W), orthonormal rows: the encoder, and transposed, the decoder
    image = test.x[int(matches[0]), 0].numpy()
    code = (image.reshape(-1).astype(np.float32) / 255 - mean) @ components.T  # (D,)
    decoded = np.clip(mean + code @ components, 0, 1).reshape(H, W)
    return CodeExample(image, code.astype(np.float32), (decoded * 255).round().astype(np.uint8),
                       test.classes[label])
