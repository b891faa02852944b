"""The denoising demo: same noise for the same seed, PSNR before and after, and a model that really cleans up."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aecore.config import DataConfig, TrainConfig
from aecore.data import load_dataset
from aecore.denoise import denoise_demo
from aecore.metrics import psnr
from aecore.models import build_model
from aecore.config import default_config
from aecore.train import fit


class Identity(nn.Module):
    """Hands its input back: its output is exactly as noisy as its input."""

    image_shape = (1, 28, 28)

    def forward(self, x):
        return x


@pytest.mark.parametrize("kind", ["gaussian", "salt_pepper", "mask"])
def test_an_identity_model_keeps_the_noise_and_scores_the_same_before_and_after(tiny_split, kind):
    demo = denoise_demo(Identity(), tiny_split, kind, 0.3, n_show=5, n_score=40, seed=3)
    assert demo.clean.shape == demo.noisy.shape == demo.reconstructed.shape == (5, 28, 28)
    assert demo.clean.dtype == np.uint8 and demo.scored == 40
    np.testing.assert_array_equal(demo.noisy, demo.reconstructed)
    assert demo.gain == pytest.approx(0.0, abs=1e-9)
    assert not np.array_equal(demo.clean, demo.noisy)
    # per-image PSNR agrees with aecore.metrics on the shown images
    clean = torch.from_numpy(demo.clean).float()[:, None] / 255
    noisy = torch.from_numpy(demo.noisy).float()[:, None] / 255
    np.testing.assert_allclose(demo.psnr_noisy, psnr(clean, noisy).numpy(), atol=0.05)


def test_the_same_seed_gives_the_same_images_and_noise(tiny_split):
    a, b = (denoise_demo(Identity(), tiny_split, "gaussian", 0.2, n_show=4, n_score=20, seed=1) for _ in range(2))
    np.testing.assert_array_equal(a.noisy, b.noisy)
    c = denoise_demo(Identity(), tiny_split, "gaussian", 0.2, n_show=4, n_score=20, seed=2)
    assert not np.array_equal(a.noisy, c.noisy)


@pytest.mark.parametrize(("kind", "level", "n_show", "n_score"), [
    ("none", 0.3, 4, 10), ("blur", 0.3, 4, 10), ("gaussian", 1.5, 4, 10),
    ("gaussian", 0.3, 0, 10), ("gaussian", 0.3, 8, 4),
])
def test_bad_settings_are_refused(tiny_split, kind, level, n_show, n_score):
    with pytest.raises(ValueError):
        denoise_demo(Identity(), tiny_split, kind, level, n_show=n_show, n_score=n_score)


def test_a_denoising_model_raises_psnr():
    train, test = load_dataset(DataConfig(limit_train=1000, limit_test=200))
    torch.manual_seed(0)
    model = build_model(default_config("mlp_ae"), train.shape)
    fit(model, train, None, TrainConfig(epochs=2, batch_size=32, lr=3e-3, patience=0, noise="gaussian",
                                            noise_level=0.4))
    demo = denoise_demo(model, test, "gaussian", 0.4, n_score=200)
    assert demo.gain > 2.0, (demo.mean_psnr_noisy, demo.mean_psnr_reconstructed)


def test_denoising_scores_of_an_identity_model_are_the_noise_itself(tiny_split):
    from aecore.data import to_float
    from aecore.denoise import denoising_scores, noisy_images
    from aecore.metrics import mse

    noisy = noisy_images(tiny_split, "gaussian", 0.3, seed=5)
    assert torch.equal(noisy, noisy_images(tiny_split, "gaussian", 0.3, seed=5))
    scores = denoising_scores(Identity(), tiny_split, "gaussian", 0.3, seed=5)
    expected = float(mse(to_float(tiny_split.x), noisy).mean())
    assert scores["mse"] == pytest.approx(expected, rel=1e-6) and expected > 0.01
    assert denoising_scores(Identity(), tiny_split, "gaussian", 0.0)["mse"] == 0.0
