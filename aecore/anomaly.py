"""Anomaly detection by reconstruction error: an autoencoder reconstructs what it was trained on best.

Train on one class only (`one_class_split`), score every test image by its reconstruction MSE
(`reconstruction_errors`), and see how well that error separates the other classes (`roc`), as in
the one-class set-up of Ruff et al. 2018 (Deep SVDD, ICML) with the autoencoder baseline they compare to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .data import Split
from .metrics import evaluate_per_image


@dataclass(frozen=True, eq=False)
class Roc:
    """ROC curve points (decreasing threshold) and the area under it; a score >= threshold is flagged."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float


def reconstruction_errors(
    model: nn.Module, split: Split, device: torch.device | str = "cpu", batch_size: int = 500
) -> np.ndarray:
    """Per-image reconstruction MSE (N,) float32, in split order: the anomaly score."""
    return evaluate_per_image(model, split, device, batch_size)["mse"]


def errors_by_class(errors: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Errors grouped by class name, in class order; classes without images are left out."""
    errors, labels = np.asarray(errors), np.asarray(labels)
    if errors.shape != labels.shape:
        raise ValueError(f"errors {errors.shape} and labels {labels.shape} differ in shape")
    return {name: errors[labels == i] for i, name in enumerate(classes) if (labels == i).any()}


def worst(errors: np.ndarray, k: int = 16) -> np.ndarray:
    """Indices of the k largest errors, largest first (NaN counts as largest; ties keep split order)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    errors = np.nan_to_num(np.asarray(errors, np.float64), nan=np.inf)
    return np.lexsort((np.arange(len(errors)), -errors))[:k]


def roc(scores: np.ndarray, is_anomaly: np.ndarray) -> Roc:
    """The ROC of flagging anomalies by score (higher = more anomalous), and its AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    scores, is_anomaly = np.asarray(scores, np.float64), np.asarray(is_anomaly, bool)
    if scores.shape != is_anomaly.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and is_anomaly {is_anomaly.shape} must be equal-length vectors")
    if is_anomaly.all() or not is_anomaly.any():
        raise ValueError("a ROC curve needs both normal and anomalous images; score a split that has both")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinity; the model may have diverged, so retrain it")
    fpr, tpr, thresholds = roc_curve(is_anomaly, scores)
    # scikit-learn's first threshold is +inf (nothing flagged); the next float above the top score flags
    # nothing too and stays plottable
    thresholds[0] = np.nextafter(scores.max(), np.inf)
    return Roc(fpr, tpr, thresholds, float(roc_auc_score(is_anomaly, scores)))


def one_class_split(train: Split, normal_class: int) -> Split:
    """The images of one class only, to train a one-class anomaly detector on."""
    if not 0 <= normal_class < len(train.classes):
        raise ValueError(f"normal_class must be between 0 and {len(train.classes) - 1}, got {normal_class}")
    keep = (train.y == normal_class).nonzero().flatten()
    if len(keep) == 0:
        raise ValueError(f"the split has no images of class {train.classes[normal_class]!r}")
    return train.take(keep)
