"""Generation: prior samples from VAEs (seeded, refused for plain autoencoders) and the 2-D manifold grid."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from aecore.generate import grid_values, manifold_grid, sample_prior
from aecore.latent import decode_codes
from aecore.models import build_model
from aecore.config import default_config


def model(kind: str, latent_dim: int | None = None):
    torch.manual_seed(0)
    cfg = default_config(kind)
    if latent_dim is not None:
        cfg = dataclasses.replace(cfg, latent_dim=latent_dim)
    return build_model(cfg, (1, 28, 28))


@pytest.mark.parametrize("kind", ["vae", "conv_vae"])
def test_prior_samples_are_images_and_repeat_with_the_seed(kind):
    vae = model(kind)
    vae.train()
    a = sample_prior(vae, 6, seed=1)
    assert a.shape == (6, 1, 28, 28) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    assert vae.training  # mode restored
    assert np.array_equal(a, sample_prior(vae, 6, seed=1))
    assert not np.allclose(a, sample_prior(vae, 6, seed=2))


def test_prior_samples_match_the_models_own_sampler():
    vae = model("vae").eval()
    expected = vae.sample(4, generator=torch.Generator().manual_seed(5)).numpy()
    np.testing.assert_allclose(sample_prior(vae, 4, seed=5), expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["mlp_ae", "conv_ae", "deep_mlp_ae"])
def test_plain_autoencoders_have_no_prior(kind):
    with pytest.raises(ValueError, match="not a variational autoencoder"):
        sample_prior(model(kind), 4)


def test_manifold_grid_is_a_mosaic_of_decoded_codes():
    vae = model("vae", latent_dim=2)
    grid = manifold_grid(vae, size=5)
    assert grid.shape == (5 * 28, 5 * 28) and grid.dtype == np.float32
    values = grid_values(5)[:, 0]
    # norm.ppf(linspace(0.05, 0.95, 5))
    np.testing.assert_allclose(values, [-1.6449, -0.5978, 0.0, 0.5978, 1.6449], atol=1e-3)
    # top-left tile: smallest z[0], largest z[1]; bottom-right: largest z[0], smallest z[1]
    corners = decode_codes(vae, np.array([[values[0], values[-1]], [values[-1], values[0]]], np.float32))
    np.testing.assert_allclose(grid[:28, :28], corners[0, 0], atol=1e-6)
    np.testing.assert_allclose(grid[-28:, -28:], corners[1, 0], atol=1e-6)


def test_manifold_grid_can_span_the_codes_of_a_plain_autoencoder():
    ae = model("mlp_ae", latent_dim=2)
    codes = np.random.default_rng(0).uniform(10, 20, (500, 2))
    values = grid_values(4, 0.05, codes)
    assert values.min() > 10 and values.max() < 20 and np.all(np.diff(values, axis=0) > 0)
    assert manifold_grid(ae, size=4, codes=codes).shape == (112, 112)


def test_manifold_grid_needs_a_2d_latent():
    with pytest.raises(ValueError, match="2-D latent"):
        manifold_grid(model("vae"), size=3)


def test_colour_images_keep_their_channels_last():
    vae = build_model(dataclasses.replace(default_config("conv_vae"), latent_dim=2), (3, 16, 12))
    assert manifold_grid(vae, size=3).shape == (48, 36, 3)


def test_prior_samples_ignore_and_leave_alone_torchs_global_generator():
    vae = model("vae")
    torch.manual_seed(1)
    state = torch.get_rng_state()
    a = sample_prior(vae, 4, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(2)
    assert np.array_equal(a, sample_prior(vae, 4, seed=3))
