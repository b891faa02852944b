"""Where a new picture lands among the test images, for one model: its point on a map of their codes, the test
images whose codes are nearest, and how unusual the model finds it.

`build_map(model, split)` is the part worth keeping (the codes, a PCA fitted to them and every test image's
reconstruction error); `place(tmap, model, image)` then costs one forward pass, so a drawing can be placed again
at every stroke. PCA, not t-SNE or UMAP, because a new point is put on a PCA map exactly, without moving the
others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .anomaly import reconstruction_errors
from .data import Split
from .infer import evaluating, reconstruct_image
from .latent import check_codes, encode_split

MAP_IMAGES = 1000
UNUSUAL = 0.95  # redrawn worse than this share of the test images: unusual for the model


@dataclass(frozen=True, eq=False)
class ImageMap:
    """A model's test images on a 2-D map of their codes."""

    points: np.ndarray  # (n, 2) float32
    codes: np.ndarray  # (n, D) float32
    labels: np.ndarray  # (n,)
    indices: np.ndarray  # (n,) split indices
    errors: np.ndarray  # (n,) reconstruction MSE of each
    mean: np.ndarray  # (D,) the codes' mean
    axes: np.ndarray  # (2, D) the map's axes in code space
    explained: np.ndarray  # (2,) share of the codes' variance along each axis


@dataclass(frozen=True, eq=False)
class Placement:
    """One picture among the test images."""

    point: np.ndarray  # (2,) on the map
    nearest: np.ndarray  # (k,) rows of the map (`ImageMap.indices` gives their split indices) with the closest codes
    error: float  # its reconstruction MSE
    worse_than: float  # share of the mapped test images the model redraws better than this picture

    @property
    def unusual(self) -> bool:
        return self.worse_than >= UNUSUAL


def build_map(model: nn.Module, split: Split, n: int = MAP_IMAGES, device: torch.device | str = "cpu",
              seed: int = 0) -> ImageMap:
    """Codes, map and errors of n test images (seeded); `DegenerateCodes`/ValueError as the Latent page gets them."""
    codes = encode_split(model, split, n, device, seed)
    z = check_codes(codes.z)
    mean = z.mean(axis=0, dtype=np.float64)
    centred = z.astype(np.float64) - mean
    if z.shape[1] <= 2:  # a code of one or two numbers is its own map
        axes = np.eye(2, z.shape[1])
        explained = np.ones(2) if z.shape[1] == 2 else np.array([1.0, 0.0])
    else:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)  # PCA; exact for any code size the app allows
        axes = vt[:2] * np.sign(vt[:2].sum(axis=1, keepdims=True) + 1e-12)  # a fixed orientation per model
        explained = s[:2] ** 2 / max(float((s ** 2).sum()), 1e-30)
    subset = split.take(torch.from_numpy(codes.indices))
    errors = reconstruction_errors(model, subset, device)
    return ImageMap((centred @ axes.T).astype(np.float32), z, codes.labels, codes.indices, errors,
                   mean.astype(np.float32), axes.astype(np.float32), explained.astype(np.float32))


def place(tmap: ImageMap, model: nn.Module, image: np.ndarray, k: int = 6,
          device: torch.device | str = "cpu") -> Placement:
    """Where `image` ((H, W) or (C, H, W), uint8 or floats in [0, 1]) lands on the model's test map."""
    rebuilt = reconstruct_image(model, image, device)
    shown = rebuilt.image if rebuilt.image.ndim == 2 else rebuilt.image.transpose(2, 0, 1)  # colour: (3, H, W)
    x = torch.from_numpy(np.ascontiguousarray(shown, dtype=np.float32))
    while x.ndim < 4:
        x = x.unsqueeze(0)
    channels = tuple(getattr(model, "image_shape", x.shape[1:]))[0]
    with evaluating(model), torch.no_grad():
        z = model.encode(x.expand(1, channels, *x.shape[-2:]).to(device)).float().cpu().flatten(1).numpy()[0]
    z = check_codes(z[None])[0]
    distance = np.square(tmap.codes.astype(np.float64) - z).sum(axis=1)
    order = np.lexsort((np.arange(len(distance)), distance))[:k]
    point = ((z.astype(np.float64) - tmap.mean) @ tmap.axes.T.astype(np.float64)).astype(np.float32)
    worse = float(np.mean(tmap.errors < rebuilt.mse))
    return Placement(point, order, rebuilt.mse, worse)
