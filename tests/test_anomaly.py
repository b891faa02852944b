"""Anomaly detection: ROC on constructed scores, per-class errors, a real one-class FashionMNIST demo, worst images."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from aecore import background, units, workers
from aecore.anomaly import (error_report, errors_by_class, one_class_demo, one_class_split, reconstruction_errors, roc,
                            worst)
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.data import load_dataset
from aecore.scoring import evaluate_per_image
from aecore.models import build_model
from aecore.config import default_config
from aecore.train import fit, train_run


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


def test_one_class_demo_trains_on_one_class_and_flags_the_others():
    reports = []
    r = one_class_demo(7, epochs=3, on_progress=lambda f, m: reports.append((f, m)), device="cpu")
    assert r.normal_name == "Sneaker" and r.train_images == 1000 and r.scores.shape == (2000,)
    assert r.warning == ""  # a thousand images describe a class
    np.testing.assert_array_equal(r.is_anomaly, r.labels != 7)
    assert r.roc.auc > 0.6 and 0.0 < r.caught(0.05) <= r.caught(0.2) <= 1.0
    assert list(r.per_class_errors) == list(r.classes) and r.per_class_errors["Sneaker"].shape == (200,)
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 0.9 and "Sneaker" in reports[1][1]


def test_one_class_demo_runs_as_training_work_in_a_worker():
    status = background.wait(workers.submit(units.one_class, 1, "fashion-mnist-sample", 1, 0, kind="train"), 120)
    assert status.state == "done" and status.kind == "train", status.error
    assert status.result.normal_name == "Trouser" and status.result.roc.auc > 0.6


def test_one_class_demo_stopped_early_is_not_a_result():
    with pytest.raises(RuntimeError, match="did not finish"):
        one_class_demo(0, epochs=1, should_stop=lambda: True, device="cpu")
    failed = background.wait(workers.submit(units.one_class, 99, "fashion-mnist-sample", 10, 0, kind="train"), 120)
    assert failed.state == "failed" and "normal_class must be between 0 and 9" in failed.error


def test_error_report_lists_the_worst_images_with_their_reconstructions(tiny_split):
    torch.manual_seed(0)
    model = build_model(default_config("mlp_ae"), tiny_split.shape)
    report = error_report(model, tiny_split, k=5)
    assert report.errors.shape == (64,) and report.worst.tolist() == worst(report.errors, 5).tolist()
    assert report.worst_images.shape == report.worst_recons.shape == (5, 28, 28)
    np.testing.assert_array_equal(report.worst_images, tiny_split.x[report.worst, 0].numpy())
    assert list(report.by_class()) == list(tiny_split.classes)


def test_the_pipeline_scores_each_test_image_once_for_the_means_and_the_demo():
    cfg = RunConfig(DataConfig(limit_train=256, limit_test=300), ModelConfig("mlp_ae", latent_dim=8, hidden=(32,)),
                    TrainConfig(epochs=1, patience=0, val_fraction=0.0))
    result = train_run(cfg, "cpu")
    _, test = load_dataset(cfg.data)
    per_image = evaluate_per_image(result.model, test)
    assert result.test_scores.keys() == per_image.keys()
    for name, values in per_image.items():
        np.testing.assert_allclose(result.test_scores[name], values, rtol=1e-6)
        assert result.metrics[name] == pytest.approx(float(values.mean(dtype=np.float64)), rel=1e-6)


def test_a_one_class_demo_on_one_image_of_its_class_says_its_scores_mean_little(tmp_path, monkeypatch):
    """A torchvision layout whose training labels hold class 0 once: the result carries a warning, the page shows it."""
    from test_idx import idx_bytes, write_layout

    from aecore import data

    raw = write_layout(tmp_path)
    labels = raw / "train-labels-idx1-ubyte"
    y = np.frombuffer(labels.read_bytes()[8:], np.uint8).copy()
    y[y == 0] = 1
    y[0] = 0
    labels.write_bytes(idx_bytes(y))
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path))
    data._load.cache_clear()
    try:
        result = one_class_demo(0, "fashion-mnist", epochs=1, device="cpu")
    finally:
        data._load.cache_clear()
    assert result.train_images == 1
    assert "one image of T-shirt/top" in result.warning and "say little" in result.warning
