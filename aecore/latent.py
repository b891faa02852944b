"""The latent space made visible: encode a split, project the codes to 2-D or 3-D, walk between codes.

`encode_split` gives the codes of a seeded subset of images; `project` maps them with PCA, t-SNE
(van der Maaten & Hinton 2008) or UMAP (McInnes et al. 2018), the last two in `aecore.maps`;
`subset` keeps the codes of chosen images, so a selection can be mapped again on its own, and `map_csv`
writes a map with its codes for download; `interpolate`, `nearest` and `principal_directions` back the
interactive views, and `decode_codes` turns any codes back into images. Everything returns numpy
arrays, so a page can plot the results without touching torch.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import Split, to_float
from .maps import PCA_DIMS, DegenerateCodes, MapSettings, neighbour_map  # noqa: F401 (shared names)
from .infer import evaluating, unit_range

METHODS = ("pca", "tsne", "umap")
Progress = Callable[[float, str], None]
MOSTLY_DUPLICATES = 0.9  # fewer distinct codes than this share of all codes earns a warning on the map


@dataclass(frozen=True, eq=False)
class Codes:
    """Codes `z` (n, D) float32 of split images `indices` (n,) (sorted), with their `labels` (n,)."""

    z: np.ndarray
    labels: np.ndarray
    indices: np.ndarray


@dataclass(frozen=True, eq=False)
class Projection:
    """`points` (m, dims) float32 for codes `kept` (m,); `explained_variance` (dims,) ratios for PCA only."""

    points: np.ndarray
    kept: np.ndarray
    method: str  # "pca", "tsne", "umap", "identity" (or "strip", made by the page for one-number codes)
    explained_variance: np.ndarray | None = None
    warning: str = ""  # what makes this map less telling than usual (duplicated or collinear codes), for the user


def encode_split(
    model: nn.Module, split: Split, n: int = 5000, device: torch.device | str = "cpu", seed: int = 0,
    batch_size: int = 1000,
) -> Codes:
    """Codes of n images drawn without replacement (seeded) from the split; all of them when it is smaller."""
    if n < 1 or batch_size < 1:
        raise ValueError(f"n and batch_size must be at least 1, got n={n}, batch_size={batch_size}")
    if len(split) == 0:
        raise ValueError("cannot encode an empty split")
    if n < len(split):
        indices = np.sort(np.random.default_rng(seed).choice(len(split), size=n, replace=False))
    else:
        indices = np.arange(len(split))
    idx = torch.from_numpy(indices)
    parts = []
    with evaluating(model):
        for start in range(0, len(idx), batch_size):
            x = to_float(split.x[idx[start:start + batch_size]], device)
            parts.append(model.encode(x).float().cpu())
    z = torch.cat(parts).flatten(1).numpy()
    return Codes(z, split.y[idx].numpy(), indices.astype(np.int64))


def project(
    z: np.ndarray, method: str = "pca", dims: int = 2, seed: int = 0, settings: MapSettings = MapSettings(),
    max_points: int = 5000, on_progress: Progress | None = None,
) -> Projection:
    """Codes (N, D) to (m, dims) points by PCA, t-SNE or UMAP; a D == dims latent comes back as it is.

    t-SNE and UMAP keep a seeded random subset of at most `max_points` codes (both slow down beyond a few
    thousand) and read their own `settings`; PCA keeps every code. `on_progress(fraction, message)` hears
    each stage. Codes with no spread raise `DegenerateCodes` whatever the method.
    """
    report = on_progress or (lambda fraction, message: None)
    z = check_codes(z)
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of: {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims!r}")
    n, d = z.shape
    if d < dims:
        raise ValueError(f"a {d}-D latent cannot be projected to {dims}-D; choose dims={d} or fewer")
    scaled, scale, warning = standardise(z)
    if d == dims:
        report(1.0, f"the latent is already {dims}-D: shown as it is")
        return Projection(z.copy(), np.arange(n), "identity", warning=warning)
    if method == "pca":

        if n < dims:
            raise ValueError(f"PCA to {dims}-D needs at least {dims} codes, got {n}")
        report(0.0, f"PCA of {n:,} codes")
        from sklearn.decomposition import PCA  # 0.9 s to import: `import aecore` stays light without it

        pca = PCA(n_components=dims, random_state=seed)
        points = pca.fit_transform(scaled) * scale  # back in the codes' own units
        report(1.0, "done")
        return Projection(points.astype(np.float32), np.arange(n), "pca",
                          pca.explained_variance_ratio_.astype(np.float32), warning)
    points, kept = neighbour_map(scaled, method, dims, seed, settings, max_points, report)
    return Projection(points, kept, method, warning=warning)


def standardise(z: np.ndarray) -> tuple[np.ndarray, float, str]:
    """Codes centred and divided by their overall spread (float64), that spread, and a warning for the map.

    PCA and t-SNE do not depend on a code's offset or overall scale, but their float32 arithmetic does: codes
    of 1e-30 underflow to identical points and codes of 1e30 overflow when squared, and scikit-learn's
    Barnes-Hut t-SNE crashes the whole process (SIGSEGV) on identical points. Scaled codes avoid both, and
    codes with no spread at all are refused with a message instead. Rank and duplicates give the warning.
    """
    x = z.astype(np.float64)
    n, d = x.shape
    centred = x - x.mean(axis=0)
    sample = centred[:: max(1, n // 4000)]  # the rank of a few thousand codes is the rank of all of them
    s = np.linalg.svd(sample, compute_uv=False)
    spread = float(s[0]) / np.sqrt(len(sample)) if len(s) else 0.0
    # a spread of a few float32 steps of the codes' size is rounding, not a difference between images
    if spread <= 8 * np.finfo(np.float32).eps * max(float(np.abs(x).max()), np.finfo(np.float32).tiny):
        raise DegenerateCodes(
            f"all {n:,} codes are the same: the model gives every image one and the same code, so there is nothing "
            "to map. Its training has collapsed; train it again with a lower learning rate")
    rank = int((s > s[0] * max(len(sample), d) * np.finfo(np.float32).eps).sum())
    distinct = len(np.unique(z, axis=0))
    warning = ""
    if distinct < MOSTLY_DUPLICATES * n:
        warning = (f"Only {distinct:,} different codes among {n:,} images: many images get exactly the same code, "
                   "so their dots sit on top of each other.")
    elif rank == 1 and d > 1:
        warning = ("The codes all lie on one straight line: the model has learned a single number per image, "
                   "however long its code, so the map can only show an ordering. It has probably collapsed; "
                   "a lower learning rate usually helps.")
    return centred / spread, spread, warning


def subset(codes: Codes, image_ids) -> Codes:
    """The codes of those images numbered `image_ids` (split indices) that `codes` holds, in split order."""
    keep = np.isin(codes.indices, np.asarray(list(image_ids), np.int64))
    if not keep.any():
        raise ValueError("none of the chosen images are among these codes; select points on the map shown")
    return Codes(codes.z[keep], codes.labels[keep], codes.indices[keep])


def map_csv(codes: Codes, projection: Projection, classes: Sequence[str]) -> str:
    """The map as CSV: a row per point with its image index, class, map coordinates and full code.

    Numbers are written with 9 significant digits, enough to read every float32 back exactly.
    """
    kept = projection.kept
    if len(kept) != len(projection.points) or (len(kept) and kept.max() >= len(codes.z)):
        raise ValueError("this projection was not made from these codes")
    dims, d = projection.points.shape[1], codes.z.shape[1]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "class", *[f"map_{i + 1}" for i in range(dims)], *[f"code_{j + 1}" for j in range(d)]])
    for point, pos in zip(projection.points, kept):
        numbers = [f"{v:.9g}" for v in (*point, *codes.z[pos])]
        writer.writerow([int(codes.indices[pos]), classes[int(codes.labels[pos])], *numbers])
    return out.getvalue()


def decode_codes(
    model: nn.Module, z: np.ndarray, device: torch.device | str = "cpu", batch_size: int = 1000
) -> np.ndarray:
    """Images (n, C, H, W) float32 in [0, 1] decoded from codes (n, D); a single code (D,) gives n = 1."""
    z = check_codes(np.atleast_2d(z))
    latent_dim = getattr(model, "latent_dim", z.shape[1])
    if z.shape[1] != latent_dim:
        raise ValueError(f"codes have {z.shape[1]} dims but the model's latent has {latent_dim}")
    parts = []
    with evaluating(model):
        for start in range(0, len(z), batch_size):
            zb = torch.from_numpy(z[start:start + batch_size]).to(device)
            parts.append(unit_range(model.decode(zb)).float().cpu())
    return torch.cat(parts).numpy()


def interpolate(
    model: nn.Module, z_a: np.ndarray, z_b: np.ndarray, steps: int = 8, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Decoded images (steps, C, H, W) along the straight line from code z_a to z_b, both ends included."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 to include both ends, got {steps}")
    z_a, z_b = np.asarray(z_a, np.float32).ravel(), np.asarray(z_b, np.float32).ravel()
    if z_a.shape != z_b.shape:
        raise ValueError(f"codes differ in size: {z_a.shape[0]} and {z_b.shape[0]}")
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    # (1 - t) a + t b is exactly a at t = 0 and exactly b at t = 1, unlike a + t (b - a)
    return decode_codes(model, (1 - t) * z_a + t * z_b, device)


def nearest(z: np.ndarray, index: int, k: int = 8) -> np.ndarray:
    """Indices of the (at most) k codes closest to z[index] in Euclidean distance, nearest first, itself excluded."""
    z = check_codes(z)
    if not 0 <= index < len(z):
        raise IndexError(f"index {index} is outside the {len(z)} codes")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    dist = np.square(z.astype(np.float64) - z[index]).sum(axis=1)
    dist[index] = np.inf
    k = min(k, len(z) - 1)
    order = np.lexsort((np.arange(len(z)), dist))  # ties keep split order, so results are reproducible
    return order[:k]


def principal_directions(z: np.ndarray, k: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The codes' mean (D,), top principal directions (k, D) (unit, sign-fixed) and the std along each (k,)."""
    z = check_codes(z)
    if len(z) < 2:
        raise ValueError(f"principal directions need at least 2 codes, got {len(z)}")
    mean = z.mean(axis=0, dtype=np.float64)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    k = min(k, len(s))
    directions = vt[:k]
    # an SVD's signs are arbitrary; make each direction's largest entry positive, as sklearn's svd_flip does
    signs = np.sign(directions[np.arange(k), np.abs(directions).argmax(axis=1)])
    directions = directions * np.where(signs == 0, 1.0, signs)[:, None]
    stds = s[:k] / np.sqrt(len(z) - 1)
    return mean.astype(np.float32), directions.astype(np.float32), stds.astype(np.float32)


def variety_shares(z: np.ndarray, k: int = 4) -> np.ndarray:
    """The share (k,) of the codes' whole variance along each of the top k principal directions, largest first:
    PCA's explained variance ratio, the number a slider along that direction is named with."""
    z = check_codes(z)
    if len(z) < 2:
        raise ValueError(f"principal directions need at least 2 codes, got {len(z)}")
    s = np.linalg.svd(z - z.mean(axis=0, dtype=np.float64), compute_uv=False)
    total = float(np.sum(s**2))
    return (s[:k] ** 2 / total if total > 0 else np.zeros(min(k, len(s)))).astype(np.float32)


def along_directions(mean: np.ndarray, directions: np.ndarray, stds: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """The code (D,) at `amounts` (k,) standard deviations along each principal direction from the mean."""
    amounts = np.asarray(amounts, np.float32)
    return (mean + (amounts * stds) @ directions).astype(np.float32)


def check_codes(z: np.ndarray) -> np.ndarray:
    """Codes as a contiguous float32 (N, D) array; ValueError for an empty one or one holding NaN or infinity."""
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"codes must be a non-empty (N, D) array, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("codes contain NaN or infinity; the model may have diverged, so retrain it")
    return np.ascontiguousarray(z, dtype=np.float32)


def strip_points(z: np.ndarray, seed: int = 0) -> np.ndarray:
    """A one-number code (N, 1) as (N, 2) map points: the code across, a seeded jitter in [-1, 1] up."""
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != 1:
        raise ValueError(f"strip_points takes (N, 1) codes, got shape {z.shape}")
    jitter = np.random.default_rng(seed).uniform(-1.0, 1.0, len(z)).astype(np.float32)
    return np.column_stack([z[:, 0], jitter])
