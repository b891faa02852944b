"""Metrics: known values, SSIM against scikit-image, batched == per-sample, and `evaluate` on toy models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity
from torch import Tensor, nn

from aecore.config import DataConfig, ModelConfig
from aecore.data import Split, load_dataset, to_float
from aecore.scoring import evaluate, evaluate_per_image
from aecore.metrics import (
    HIGHER_IS_BETTER, METRICS, SKIMAGE_SSIM_KWARGS, mae, mse, per_image_metrics, pixel_accuracy, psnr, ssim,
)


def sample_test(n: int = 64) -> Split:
    return load_dataset(DataConfig(name="fashion-mnist-sample", limit_test=n))[1]


def blur_noise(x: Tensor, std: float, seed: int = 0) -> Tensor:
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return (F.avg_pool2d(x, 3, stride=1, padding=1) + std * noise).clamp(0, 1)


class Identity(nn.Module):
    """Perfect reconstruction; records the mode it was called in."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append((self.training, torch.is_inference_mode_enabled()))
        return x.clone()

    def loss(self, x: Tensor, target: Tensor, generator=None) -> tuple[Tensor, dict[str, Tensor]]:
        l = F.mse_loss(self(x), target)
        return l, {"loss": l}


class Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return torch.full_like(x, self.value)


class FakeVAE(Identity):
    """Logs per-batch values whose image-weighted mean is known: recon = batch mean pixel, kl = 2 * recon."""

    def __init__(self, log_elbo: bool) -> None:
        super().__init__()
        self.log_elbo = log_elbo

    def loss(self, x: Tensor, target: Tensor, generator=None) -> tuple[Tensor, dict[str, Tensor]]:
        recon = x.mean()
        logs = {"loss": 3 * recon, "recon": recon, "kl": 2 * recon}
        if self.log_elbo:
            logs["elbo"] = -10 * recon  # deliberately not -(recon + kl): a logged ELBO wins
        return 3 * recon, logs


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (3, 3, 32, 20)])
def test_identical_images_score_perfectly(shape: tuple[int, ...]) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    scores = per_image_metrics(x, x.clone())
    assert set(scores) == set(METRICS)
    assert all(v.shape == (shape[0],) for v in scores.values())
    assert torch.equal(scores["mse"], torch.zeros(shape[0]))
    assert torch.equal(scores["mae"], torch.zeros(shape[0]))
    assert torch.equal(scores["pixel_acc"], torch.ones(shape[0]))
    torch.testing.assert_close(scores["ssim"], torch.ones(shape[0]), atol=1e-6, rtol=0)
    assert torch.isfinite(scores["psnr"]).all() and (scores["psnr"] >= 100).all()


def test_known_values_for_constant_images() -> None:
    x, x_hat = torch.zeros(2, 1, 16, 16), torch.full((2, 1, 16, 16), 0.5)
    torch.testing.assert_close(mse(x, x_hat), torch.full((2,), 0.25))
    torch.testing.assert_close(mae(x, x_hat), torch.full((2,), 0.5))
    torch.testing.assert_close(psnr(x, x_hat), torch.full((2,), 10 * math.log10(1 / 0.25)))
    torch.testing.assert_close(psnr(x, x_hat), torch.full((2,), 6.0206), atol=1e-4, rtol=0)
    # 0 and 0.5 both sit at or below the threshold; 0.6 crosses it
    assert torch.equal(pixel_accuracy(x, x_hat), torch.ones(2))
    assert torch.equal(pixel_accuracy(x, torch.full_like(x, 0.6)), torch.zeros(2))


def test_psnr_follows_data_range() -> None:
    x, x_hat = torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.1)
    torch.testing.assert_close(psnr(x, x_hat, data_range=2.0) - psnr(x, x_hat), 20 * torch.log10(torch.tensor([2.0])))


def test_pixel_accuracy_counts_the_share_of_agreeing_pixels() -> None:
    x = torch.tensor([[[[0.9, 0.9, 0.1, 0.1]]]])
    x_hat = torch.tensor([[[[0.8, 0.2, 0.3, 0.7]]]])
    torch.testing.assert_close(pixel_accuracy(x, x_hat), torch.tensor([0.5]))


def _ssim_cases() -> dict[str, tuple[Tensor, Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = to_float(sample_test(32).x)
    rgb = x[:24].reshape(8, 3, 28, 28)  # three different garments as the channels of one image
    return {
        "random": (torch.rand(6, 1, 28, 28, generator=g), torch.rand(6, 1, 28, 28, generator=g)),
        "fashion_blur_noise": (x, blur_noise(x, 0.05)),
        "fashion_heavy_noise": (x, blur_noise(x, 0.3, seed=1)),
        "fashion_vs_other_garment": (x, x.roll(1, dims=0)),
        "random_rgb_non_square": (torch.rand(4, 3, 24, 37, generator=g), torch.rand(4, 3, 24, 37, generator=g)),
        "fashion_rgb_blur_noise": (rgb, blur_noise(rgb, 0.1, seed=2)),
    }


@pytest.mark.parametrize("case", list(_ssim_cases()))
def test_ssim_matches_skimage(case: str) -> None:
    x, x_hat = _ssim_cases()[case]
    channel_axis = 0 if x.shape[1] > 1 else None
    ref = [
        structural_similarity(
            a.double().numpy().squeeze(0) if channel_axis is None else a.double().numpy(),
            b.double().numpy().squeeze(0) if channel_axis is None else b.double().numpy(),
            channel_axis=channel_axis, **SKIMAGE_SSIM_KWARGS,
        )
        for a, b in zip(x, x_hat)
    ]
    ours = ssim(x, x_hat).double().numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4, rtol=0)
    assert np.ptp(ref) > 1e-3 or case == "random"  # the images differ enough for the check to mean something


def test_ssim_uses_an_11_wide_gaussian_window_like_skimage() -> None:
    assert SKIMAGE_SSIM_KWARGS["win_size"] == 11 and SKIMAGE_SSIM_KWARGS["sigma"] == 1.5
    assert SKIMAGE_SSIM_KWARGS["gaussian_weights"] is True
    with pytest.raises(ValueError, match="11x11"):
        ssim(torch.rand(1, 1, 10, 28), torch.rand(1, 1, 10, 28))


@pytest.mark.parametrize("name", list(METRICS))
@pytest.mark.parametrize("channels", [1, 3])
def test_batched_equals_per_sample(name: str, channels: int) -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(7, channels, 28, 28, generator=g)
    x_hat = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    batched = METRICS[name](x, x_hat)
    one_by_one = torch.cat([METRICS[name](x[i:i + 1], x_hat[i:i + 1]) for i in range(len(x))])
    assert batched.shape == (7,)
    torch.testing.assert_close(batched, one_by_one, atol=1e-6, rtol=1e-6)


def test_higher_is_better_names_metrics() -> None:
    assert HIGHER_IS_BETTER == {"psnr", "ssim", "pixel_acc"} and HIGHER_IS_BETTER <= set(METRICS)


def test_evaluate_identity_model_is_perfect() -> None:
    scores = evaluate(Identity(), sample_test(130), batch_size=50)
    assert set(scores) == set(METRICS)
    assert all(isinstance(v, float) for v in scores.values())
    assert scores["mse"] == 0.0 and scores["mae"] == 0.0 and scores["pixel_acc"] == 1.0
    assert scores["ssim"] == pytest.approx(1.0, abs=1e-6)


def test_evaluate_zero_model_gives_mean_square_of_images() -> None:
    split = sample_test(130)
    scores = evaluate(Constant(0.0), split, batch_size=40)
    x = split.x.double() / 255
    assert scores["mse"] == pytest.approx(float(x.pow(2).mean()), rel=1e-6)
    assert scores["mae"] == pytest.approx(float(x.mean()), rel=1e-6)


def test_evaluate_clamps_reconstructions_to_unit_range() -> None:
    split = sample_test(20)
    assert evaluate(Constant(1.7), split)["mse"] == pytest.approx(evaluate(Constant(1.0), split)["mse"])


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_runs_in_eval_inference_mode_and_restores_mode(training: bool) -> None:
    model = Identity().train(training)
    evaluate(model, sample_test(30), batch_size=10)
    assert model.training is training
    assert model.calls and all(call == (False, True) for call in model.calls)


def test_evaluate_restores_mode_when_the_model_fails() -> None:
    class Broken(Identity):
        def forward(self, x: Tensor) -> Tensor:
            raise RuntimeError("boom")

    model = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, sample_test(10))
    assert model.training


def test_evaluate_per_image_matches_direct_metrics_in_split_order() -> None:
    split = sample_test(45)
    x = to_float(split.x)
    x_hat = torch.full_like(x, 0.3)
    per_image = evaluate_per_image(Constant(0.3), split, batch_size=20)
    assert set(per_image) == set(METRICS)
    for name, values in per_image.items():
        assert isinstance(values, np.ndarray) and values.shape == (45,)
        np.testing.assert_allclose(values, METRICS[name](x, x_hat).numpy(), atol=1e-6)


def test_evaluate_means_do_not_depend_on_batch_size_and_respect_max_images() -> None:
    split = sample_test(64)
    model = Constant(0.25)
    whole = evaluate(model, split, batch_size=64)
    for key, value in evaluate(model, split, batch_size=7).items():
        assert value == pytest.approx(whole[key], rel=1e-6)
    first = evaluate(model, split, max_images=10)
    assert first["mse"] == pytest.approx(float(evaluate_per_image(model, split)["mse"][:10].mean()), rel=1e-6)


@pytest.mark.parametrize("log_elbo", [True, False])
def test_evaluate_reports_elbo_terms_weighted_by_batch_size(log_elbo: bool) -> None:
    split = sample_test(50)
    scores = evaluate(FakeVAE(log_elbo), split, batch_size=16)  # batches of 16, 16, 16, 2
    mean_pixel = float(split.x.double().mean() / 255)
    assert scores["recon"] == pytest.approx(mean_pixel, rel=1e-5)
    assert scores["kl"] == pytest.approx(2 * mean_pixel, rel=1e-5)
    assert scores["elbo"] == pytest.approx((-10 if log_elbo else -3) * mean_pixel, rel=1e-5)
    assert not {"recon", "kl", "elbo"} & evaluate(Identity(), split).keys()


def test_evaluate_real_models() -> None:
    try:
        from aecore.models import MODELS, build_model
    except ImportError:
        pytest.skip("aecore.models is not available")
    split = sample_test(40)
    for kind in MODELS:
        model = build_model(ModelConfig(kind=kind, hidden=(8, 8)), split.shape).train()
        scores = evaluate(model, split, batch_size=16)
        assert model.training, kind
        assert set(METRICS) <= scores.keys() and all(math.isfinite(v) for v in scores.values()), kind
        assert 0.0 <= scores["mse"] <= 1.0 and -1.0 <= scores["ssim"] <= 1.0, kind
        assert ("kl" in scores) == ("vae" in kind), kind
        if "kl" in scores:
            assert scores["elbo"] == pytest.approx(-(scores["recon"] + scores["kl"]))


def test_vae_elbo_scores_repeat_and_leave_the_callers_rng_alone():
    from aecore.models import build_model
    from aecore.config import default_config

    _, test = load_dataset(DataConfig(limit_test=100))
    model = build_model(default_config("vae"), test.shape)
    torch.manual_seed(5)
    first = evaluate(model, test)
    after = torch.rand(3)
    torch.manual_seed(5)
    assert evaluate(model, test)["elbo"] == first["elbo"]
    assert torch.equal(torch.rand(3), after)


def test_vae_elbo_scores_repeat_while_another_thread_reseeds_torch():
    import threading

    from aecore.models import build_model

    from aecore.config import default_config

    _, test = load_dataset(DataConfig(limit_test=300))
    model = build_model(default_config("vae"), test.shape)
    alone = evaluate(model, test, batch_size=10)
    stop = threading.Event()

    def meddle() -> None:  # another job or page seeding torch's global generator
        while not stop.is_set():
            torch.manual_seed(int(torch.randint(1000, ())))

    meddler = threading.Thread(target=meddle, daemon=True)
    meddler.start()
    try:
        busy = [evaluate(model, test, batch_size=10) for _ in range(3)]
    finally:
        stop.set()
        meddler.join()
    assert all(scores["elbo"] == alone["elbo"] for scores in busy)
