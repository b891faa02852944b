"""Anomaly detection: ROC on constructed scores, per-class errors, and a real one-class FashionMNIST demo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aecore.anomaly import errors_by_class, one_class_split, reconstruction_errors, roc, worst
from aecore.config import DataConfig, TrainConfig
from aecore.data import load_dataset
from aecore.metrics import evaluate_per_image
from aecore.models import build_model, default_config
from aecore.train import fit


def test_roc_of_constructed_scores():
    labels = np.array([0] * 50 + [1] * 50, bool)
    separated = np.arange(100, dtype=float)
    assert roc(separated, labels).auc == 1.0
    assert roc(-separated, labels).auc == 0.0
    rng = np.random.default_rng(0)
    random = [roc(rng.random(2000), rng.random(2000) < 0.3).auc for _ in range(3)]
    assert all(abs(a - 0.5) < 0.05 for a in random)


def test_roc_curve_runs_from_nothing_flagged_to_everything_flagged():
    r = roc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
    assert r.auc == pytest.approx(0.75)
    assert (r.fpr[0], r.tpr[0], r.fpr[-1], r.tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.isfinite(r.thresholds)) and r.thresholds[0] > 0.8 and np.all(np.diff(r.thresholds) < 0)


@pytest.mark.parametrize(("scores", "labels"), [
    ([1.0, 2.0], [True, True]),
    ([1.0, 2.0], [False, False]),
    ([1.0, np.nan], [False, True]),
    ([1.0, 2.0, 3.0], [False, True]),
])
def test_roc_refuses_what_it_cannot_score(scores, labels):
    with pytest.raises(ValueError):
        roc(np.array(scores), np.array(labels))


def test_worst_and_errors_by_class():
    errors = np.array([0.1, 0.5, np.nan, 0.5, 0.2], np.float32)
    assert worst(errors, 3).tolist() == [2, 1, 3]
    assert worst(errors, 10).tolist() == [2, 1, 3, 4, 0]
    groups = errors_by_class(errors, np.array([0, 2, 2, 0, 0]), ("a", "b", "c"))
    assert list(groups) == ["a", "c"]
    np.testing.assert_array_equal(groups["a"], errors[[0, 3, 4]])


def test_one_class_split_keeps_one_class(tiny_split):
    only = one_class_split(tiny_split, 3)
    assert len(only) > 0 and bool((only.y == 3).all()) and only.classes == tiny_split.classes
    with pytest.raises(ValueError):
        one_class_split(tiny_split, 10)
    with pytest.raises(ValueError, match="no images"):
        one_class_split(tiny_split.take(tiny_split.y != 3), 3)


def test_one_class_autoencoder_flags_the_other_classes():
    train, test = load_dataset(DataConfig(limit_test=500))
    normal = 7  # sneakers
    torch.manual_seed(0)
    model = build_model(default_config("mlp_ae"), train.shape)
    fit(model, one_class_split(train, normal), None, TrainConfig(epochs=20, batch_size=64, patience=0, max_steps=200))
    errors = reconstruction_errors(model, test)
    assert errors.shape == (500,) and errors.dtype == np.float32
    np.testing.assert_array_equal(errors, evaluate_per_image(model, test)["mse"])
    r = roc(errors, test.y.numpy() != normal)
    assert r.auc > 0.6
    by_class = errors_by_class(errors, test.y.numpy(), test.classes)
    assert min(by_class, key=lambda name: by_class[name].mean()) == test.classes[normal]
