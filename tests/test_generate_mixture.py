"""Generation from any autoencoder: a Gaussian mixture over codes, the VAE temperature, and class arithmetic."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from aecore.config import DataConfig
from aecore.data import load_dataset
from aecore.generate import (FULL_COVARIANCE_UP_TO, class_means, fit_mixture, mixture_of_codes, sample_mixture,
                             sample_prior, shift_codes)
from aecore.models import build_model
from aecore.config import default_config


def two_clusters(d: int = 3, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(-5, 0.1, (n, d)), rng.normal(5, 0.1, (n, d))]).astype(np.float32)


def test_a_mixture_finds_two_clusters_and_samples_from_them():
    mixture = fit_mixture(two_clusters(), components=2, seed=0)
    assert mixture.components == 2 and mixture.converged
    np.testing.assert_allclose(np.sort(mixture.weights), [0.5, 0.5], atol=0.01)
    np.testing.assert_allclose(np.sort(mixture.means[:, 0]), [-5, 5], atol=0.05)
    z = sample_mixture(mixture, 400, seed=1)
    assert z.shape == (400, 3) and z.dtype == np.float32
    near = np.minimum(np.abs(z - 5).max(axis=1), np.abs(z + 5).max(axis=1))
    assert near.max() < 1.0  # every sample sits in one of the two clusters, none between them
    assert 0.35 < (z[:, 0] > 0).mean() < 0.65


@pytest.mark.parametrize("d", [4, FULL_COVARIANCE_UP_TO + 8])  # full covariances, then one variance per number
def test_mixture_fits_and_samples_repeat_with_their_seeds(d):
    z = np.random.default_rng(2).normal(3.0, 0.01, (500, d)).astype(np.float32)  # small codes, off zero
    a, b = fit_mixture(z, 3, seed=4), fit_mixture(z, 3, seed=4)
    assert np.array_equal(a.means, b.means) and np.array_equal(a.scales, b.scales)
    assert a.means.shape == (3, d) and a.scales.shape == ((3, d, d) if d <= FULL_COVARIANCE_UP_TO else (3, d))
    s = sample_mixture(a, 50, seed=7)
    assert np.array_equal(s, sample_mixture(b, 50, seed=7)) and not np.allclose(s, sample_mixture(a, 50, seed=8))
    assert abs(s.mean() - 3.0) < 0.01 and 0.002 < s.std() < 0.03  # the codes' own place and spread


def test_a_mixture_refuses_bad_settings_with_a_reason():
    with pytest.raises(ValueError, match="between 1 and"):
        fit_mixture(two_clusters(), components=0)
    with pytest.raises(ValueError, match="at least 20 codes"):
        fit_mixture(two_clusters(n=5), components=10)
    with pytest.raises(ValueError, match="NaN"):
        fit_mixture(np.full((40, 2), np.nan, np.float32), components=2)


@pytest.mark.parametrize("kind", ["mlp_ae", "conv_ae"])
def test_a_plain_autoencoder_generates_images_from_its_training_codes(kind):
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(default_config(kind), latent_dim=6), (1, 28, 28))
    train, _ = load_dataset(DataConfig(limit_train=300))
    seen = []
    mixture = mixture_of_codes(model, train, components=4, n=200, on_progress=lambda f, m: seen.append(f))
    assert mixture.means.shape == (4, 6) and seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)
    from aecore.latent import decode_codes
    images = decode_codes(model, sample_mixture(mixture, 5))
    assert images.shape == (5, 1, 28, 28) and 0 <= images.min() and images.max() <= 1


def test_temperature_scales_the_prior_and_one_is_the_plain_prior():
    vae = build_model(default_config("vae"), (1, 28, 28)).eval()
    assert np.array_equal(sample_prior(vae, 4, seed=3), sample_prior(vae, 4, seed=3, temperature=1.0))
    # the same seed at temperature 0.5 decodes the plain prior's codes halved
    z = torch.randn(4, vae.latent_dim, generator=torch.Generator().manual_seed(3)).numpy()
    from aecore.latent import decode_codes
    np.testing.assert_allclose(sample_prior(vae, 4, seed=3, temperature=0.5), decode_codes(vae, z * 0.5), atol=1e-6)
    for bad in (0.0, -1.0, 11.0):
        with pytest.raises(ValueError, match="temperature"):
            sample_prior(vae, 2, temperature=bad)


def test_class_means_and_arithmetic_on_known_codes():
    z = np.array([[0, 0], [2, 0], [10, 10], [10, 12], [5, 5]], np.float32)
    labels = np.array([0, 0, 1, 1, 3])
    means = class_means(z, labels, classes=4)
    np.testing.assert_array_equal(means[[0, 1, 3]], [[1, 0], [10, 11], [5, 5]])
    assert np.isnan(means[2]).all()  # no codes of class 2
    moved = shift_codes(z[0], means[0], means[1], [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(moved, [[0, 0], [4.5, 5.5], [9, 11]])  # image + (B - A) at t = 1
    with pytest.raises(ValueError, match="class mean is missing"):
        shift_codes(z[0], means[2], means[1], [1.0])
    with pytest.raises(ValueError, match="differ in size"):
        shift_codes(np.zeros(3), means[0], means[1], [1.0])
    with pytest.raises(ValueError, match="one per code"):
        class_means(z, labels[:3], classes=4)
