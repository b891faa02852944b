"""Image picks (data), reconstructions (infer), error maps, summaries and best values (metrics), 1-D map strips (latent)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aecore.data import images_at, pick_images
from aecore.infer import reconstruct, reconstruct_images
from aecore.latent import strip_points
from aecore.scoring import class_means, evaluate, evaluate_per_image, summarise
from aecore.metrics import best_index, error_maps
from aecore.models import build_model
from aecore.config import default_config


def test_pick_images_is_seeded_sorted_and_respects_the_class():
    labels = np.arange(100) % 10
    a, b = pick_images(labels, 8, seed=3), pick_images(labels, 8, seed=3)
    assert np.array_equal(a, b) and len(a) == 8 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, pick_images(labels, 8, seed=4))
    sevens = pick_images(labels, 4, seed=0, label=7)
    assert len(sevens) == 4 and set(labels[sevens]) == {7}
    assert np.array_equal(pick_images(labels, 50, label=7), np.flatnonzero(labels == 7))  # fewer than asked: all
    assert len(pick_images(labels, 3, label=11)) == 0
    with pytest.raises(ValueError, match="at least 1"):
        pick_images(labels, 0)


def test_images_and_reconstructions_are_uint8_pictures_of_the_chosen_images(tiny_split):
    torch.manual_seed(0)
    model = build_model(default_config("mlp_ae"), tiny_split.shape)
    idx = np.array([3, 10, 40])
    x = images_at(tiny_split, idx)
    assert x.dtype == np.uint8 and x.shape == (3, 28, 28)
    assert np.array_equal(x, tiny_split.x[idx, 0].numpy())
    x_hat = reconstruct_images(model, tiny_split, idx)
    assert x_hat.dtype == np.uint8 and x_hat.shape == (3, 28, 28)
    expected = (reconstruct(model, tiny_split.x[idx])[:, 0] * 255).round().to(torch.uint8).numpy()
    assert np.array_equal(x_hat, expected)
    assert reconstruct_images(model, tiny_split, np.array([], np.int64)).shape == (0, 28, 28)


def test_error_maps_are_absolute_differences_in_the_unit_range():
    x = np.array([[[0, 255], [100, 50]]], np.uint8)
    x_hat = np.array([[[255, 255], [50, 100]]], np.uint8)
    err = error_maps(x, x_hat)
    assert err.dtype == np.float32
    assert np.allclose(err, [[[1.0, 0.0], [50 / 255, 50 / 255]]])
    with pytest.raises(ValueError, match="shape"):
        error_maps(x, x_hat[:, :1])


def test_summarise_and_class_means_agree_with_evaluate(tiny_split):
    torch.manual_seed(0)
    model = build_model(default_config("conv_ae"), tiny_split.shape)
    per_image = evaluate_per_image(model, tiny_split, batch_size=16)
    means = summarise(per_image)
    reference = evaluate(model, tiny_split)
    for key in ("mse", "mae", "psnr", "ssim", "pixel_acc"):
        assert means[key] == pytest.approx(reference[key], rel=1e-6)
    labels = tiny_split.y.numpy()
    by_class = class_means(per_image["ssim"], labels, tiny_split.classes)
    assert list(by_class) == list(tiny_split.classes)
    assert by_class["3"] == pytest.approx(per_image["ssim"][labels == 3].mean(), rel=1e-6)
    # weighted by class sizes, the class means give back the overall mean
    sizes = np.bincount(labels, minlength=10)
    assert np.dot(list(by_class.values()), sizes) / sizes.sum() == pytest.approx(means["ssim"], rel=1e-6)


def test_class_means_leave_out_classes_without_images():
    assert class_means(np.array([1.0, 3.0, 5.0]), np.array([0, 0, 2]), ("a", "b", "c")) == {"a": 2.0, "c": 5.0}


@pytest.mark.parametrize("values, higher, best", [
    ([0.3, 0.1, 0.2], False, 1),
    ([0.3, 0.1, 0.2], True, 0),
    ([np.nan, 0.5, 0.5], True, 1),  # NaN ignored, the first of a tie
    ([np.nan, np.nan], False, None),
    ([], True, None),
])
def test_best_index(values, higher, best):
    assert best_index(values, higher) == best


def test_strip_points_put_the_code_across_and_a_seeded_jitter_up():
    z = np.linspace(-2, 2, 50, dtype=np.float32)[:, None]
    points = strip_points(z, seed=1)
    assert points.shape == (50, 2) and points.dtype == np.float32
    assert np.array_equal(points[:, 0], z[:, 0])
    assert np.abs(points[:, 1]).max() <= 1.0 and np.array_equal(points, strip_points(z, seed=1))
    with pytest.raises(ValueError, match=r"\(N, 1\)"):
        strip_points(np.zeros((5, 2)))
