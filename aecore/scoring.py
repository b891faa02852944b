"""Scoring a model on a split: `evaluate(model, split)` averages every metric over it, and per-class summaries.

One batched pass gives every metric per image (`aecore.metrics`) and, for a VAE, its ELBO terms; the means,
the per-image arrays and their grouping by class are what the pages and the run store keep.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .data import Split, to_float
from .infer import evaluating, unit_range
from .metrics import METRICS, per_image_metrics

ELBO_LOGS = ("recon", "kl", "elbo")


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
            x_hat = unit_range(model(x))
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
