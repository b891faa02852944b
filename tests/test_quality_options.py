"""The options that buy quality per second: the SSIM-aware loss, learning-rate schedules, conv architecture options."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from torch import nn

from aecore.config import VARIATIONAL_KINDS, DataConfig, ModelConfig, RunConfig, TrainConfig, from_dict, to_dict
from aecore.data import load_dataset, to_float
from aecore.metrics import SSIM_K1, ssim
from aecore.models import MODELS, build_model, is_variational
from aecore.models.common import ssim_loss
from aecore.presets import PRESETS

SHAPE = (1, 28, 28)


def _images(n: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed))


def _real(n: int = 16) -> torch.Tensor:
    """FashionMNIST images from the bundled sample: SSIM rewards structure, which uniform noise has none of."""
    return to_float(load_dataset(DataConfig(limit_train=n, limit_test=1))[0].x)


@pytest.mark.parametrize("loss", ["mse_ssim", "l1_ssim"])
def test_identical_images_give_the_pixel_loss_alone(loss):
    x = _images()
    cfg = ModelConfig("conv_ae", recon_loss=loss, ssim_weight=0.7)
    assert ssim_loss(x, x, cfg).item() == pytest.approx(0.0, abs=1e-6)
    shifted = (x + 0.1).clamp(0, 1)  # SSIM well below 1: the total is the pixel error plus the weighted term
    pixel = (shifted - x).pow(2).mean() if loss == "mse_ssim" else (shifted - x).abs().mean()
    expected = pixel + 0.7 * (1 - ssim(x, shifted).mean())
    assert ssim_loss(shifted, x, cfg).item() == pytest.approx(expected.item(), rel=1e-5)


def test_ssim_term_of_two_flat_images_is_the_luminance_formula():
    a, b = torch.full((2, *SHAPE), 0.2), torch.full((2, *SHAPE), 0.6)
    c1 = SSIM_K1**2  # flat images: no variance, so SSIM is the luminance term alone (Wang et al. 2004)
    known = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    cfg = ModelConfig("conv_ae", recon_loss="mse_ssim", ssim_weight=2.0)
    assert ssim_loss(b, a, cfg).item() == pytest.approx(0.16 + 2.0 * (1 - known), abs=5e-4)  # float32 moments


def test_an_autoencoder_with_the_ssim_loss_logs_mse_and_learns():
    cfg = ModelConfig("conv_ae", 16, (8, 16), recon_loss="mse_ssim")
    model = build_model(cfg, SHAPE)
    x = _real()
    loss, logs = model.loss(x, x)
    assert set(logs) == {"loss", "mse"} and logs["loss"] > logs["mse"]  # the SSIM term is on top of the pixel error
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = loss.item()
    for _ in range(30):
        loss, _ = model.loss(x, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first


@pytest.mark.parametrize("kind", VARIATIONAL_KINDS)
def test_a_vae_refuses_the_ssim_loss(kind):
    with pytest.raises(ValueError, match="a VAE's loss is a likelihood"):
        ModelConfig(kind, recon_loss="mse_ssim")


def test_config_knows_which_kinds_are_variational():
    assert set(VARIATIONAL_KINDS) == {k for k in MODELS if is_variational(k)}


@pytest.mark.parametrize("bad, match", [
    (dict(norm="layer"), "unknown norm 'layer'"), (dict(upsample="bilinear"), "unknown upsample"),
    (dict(convs_per_level=0), "convs_per_level must be"), (dict(ssim_weight=-1.0), "ssim_weight must be"),
    (dict(kind="mlp_ae", norm="batch"), "shape convolutional models"),
])
def test_bad_model_options_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**{"kind": "conv_ae", **bad})










ARCH = [dict(norm="batch"), dict(upsample="nearest"), dict(convs_per_level=2),
        dict(norm="batch", upsample="nearest", convs_per_level=3)]


@pytest.mark.parametrize("kind", ["conv_ae", "conv_vae"])
@pytest.mark.parametrize("options", ARCH)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 13, 17)])
def test_conv_options_keep_shapes(kind, options, shape):
    model = build_model(ModelConfig(kind, 12, (8, 16, 24), **options), shape).eval()
    x = torch.rand(4, *shape)
    z = model.encode(x)
    assert z.shape == (4, 12) and model.decode(z).shape == (4, *shape)


@pytest.mark.parametrize("options", ARCH)
def test_conv_options_learn_a_fixed_batch(options):
    model = build_model(ModelConfig("conv_ae", 16, (8, 16), **options), SHAPE, seed=3)
    x = _real()
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    losses = []
    for _ in range(30):
        loss, _ = model.loss(x, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_the_classic_conv_network_is_unchanged_by_the_new_options():
    model = build_model(ModelConfig("conv_ae", 64, (32, 64)), SHAPE)
    layers = [type(m).__name__ for m in model.modules() if not isinstance(m, (nn.Sequential,))]
    assert layers == ["ConvAE", "Conv2d", "ReLU", "Conv2d", "ReLU", "Flatten", "Linear",
                      "Linear", "ReLU", "Unflatten", "ConvTranspose2d", "ReLU", "ConvTranspose2d"]


def test_batch_norm_weights_are_seeded_and_round_trip_through_json():
    cfg = ModelConfig("conv_ae", 16, (8, 16), norm="batch", upsample="nearest", convs_per_level=2,
                      recon_loss="l1_ssim", ssim_weight=0.5)
    a, b = build_model(cfg, SHAPE, seed=5), build_model(cfg, SHAPE, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    run = RunConfig(model=cfg, train=TrainConfig(lr_schedule="cosine", warmup=0.3))
    assert from_dict(to_dict(run)) == run


def test_presets_validate_and_the_classics_keep_their_tutorial_settings():
    for name, preset in PRESETS.items():
        cfg = from_dict(to_dict(preset.config))
        m, t = cfg.model, cfg.train
        if preset.seconds == 0:  # a classic: the tutorial's loss, a constant rate, the plain network
            assert m.recon_loss in ("mse", "bce") and t.lr_schedule == "constant", name
            assert (m.norm, m.upsample, m.convs_per_level) == ("none", "transpose", 1), name
        else:  # no title promises a time: the app measures how long a preset takes here
            assert not re.search(r"\d+ ?s\b|second", preset.title), name
    assert PRESETS["best-minute"].config.model.latent_dim == 64
    assert dataclasses.replace(PRESETS["fashion-cnn"].config.model) == ModelConfig("conv_ae", 64, (32, 64))


def test_train_page_has_every_sharpness_option_with_help(monkeypatch, tmp_path):
    from apptest import ROOT, open_page

    from ui.train_options import OPTION_KEYS

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "data"))
    at = open_page("pages/train.py")
    for key in OPTION_KEYS:
        assert at.get_by_key(key).help, key
    at.selectbox(key="model").set_value("mlp_ae").run()
    assert at.checkbox(key="batch_norm").disabled
    at.selectbox(key="model").set_value("conv_ae").run()
    assert not at.checkbox(key="batch_norm").disabled
    at.selectbox(key="recon_loss").set_value("mse").run()
    assert at.slider(key="ssim_weight").disabled
    at.selectbox(key="recon_loss").set_value("mse_ssim").run()
    assert not at.slider(key="ssim_weight").disabled
    at.selectbox(key="lr_schedule").set_value("constant").run()
    assert at.slider(key="warmup").disabled
    at.selectbox(key="lr_schedule").set_value("one_cycle").run()
    assert not at.slider(key="warmup").disabled
    at.selectbox(key="model").set_value("vae").run()
    assert at.selectbox(key="recon_loss").options == ["Pixel error (MSE)", "Pixel likelihood (BCE)"]
    assert not at.exception and not at.error


def test_the_options_flow_from_the_widgets_into_the_config():
    from ui.train_options import apply_options, option_values

    conv = RunConfig(model=ModelConfig("conv_ae", 64, (32, 64)))
    v = option_values(conv) | {"recon_loss": "l1_ssim", "ssim_weight": 0.5, "lr_schedule": "cosine", "warmup": 0.2,
                               "batch_norm": True}
    cfg = apply_options(conv, v)
    assert (cfg.model.recon_loss, cfg.model.norm, cfg.model.upsample, cfg.model.convs_per_level) == \
        ("l1_ssim", "batch", "transpose", 1)
    scripted = RunConfig(model=ModelConfig("conv_ae", 64, (32, 64), upsample="nearest", convs_per_level=2))
    kept = apply_options(scripted, v).model  # options the page does not offer are kept as they were
    assert (kept.upsample, kept.convs_per_level) == ("nearest", 2)
    assert (cfg.train.lr_schedule, cfg.train.warmup) == ("cosine", 0.2) and option_values(cfg) == v
    mlp = apply_options(RunConfig(), v)  # conv-only options do not reach a fully connected model
    assert (mlp.model.norm, mlp.model.upsample, mlp.model.convs_per_level) == ("none", "transpose", 1)


def test_pca_at_the_same_code_size_comes_from_the_reference_file(tmp_path):
    import json

    from aecore.reference import pca_at

    row = {"preset": "p", "model": "conv_ae", "latent_dim": 64, "epochs": 1, "seconds": 1.0, "mse": 0.01,
           "ssim": 0.8, "psnr": 20.0, "pca_mse": 0.0099, "pca_ssim": 0.699}
    doc = {"dataset": "fashion-mnist", "train_images": 1, "test_images": 1, "mean_image": {"mse": 0.08, "ssim": 0.13},
           "presets": [row], "pca": {"32": {"mse": 0.014, "ssim": 0.62}}}
    (tmp_path / "fashion-mnist.json").write_text(json.dumps(doc))
    assert pca_at("fashion-mnist-sample", 32, tmp_path) == {"mse": 0.014, "ssim": 0.62}  # a sample reads its full set's
    assert pca_at("fashion-mnist", 64, tmp_path) == {"mse": 0.0099, "ssim": 0.699}  # an older file: the preset rows'
    assert pca_at("fashion-mnist", 7, tmp_path) is None and pca_at("mnist", 32, tmp_path) is None
    (tmp_path / "fashion-mnist.json").write_text("{")
    assert pca_at("fashion-mnist", 32, tmp_path) is None  # unreadable: the Compare page says why


def test_a_sharp_preset_trains_saves_and_loads_with_its_batch_norm_statistics(tmp_path):
    from aecore.store import runs
    from aecore.presets import get_preset
    from aecore.train import train_run

    cfg = get_preset("quick-demo")
    cfg = dataclasses.replace(cfg, data=DataConfig(limit_train=320, limit_test=40),
                              train=dataclasses.replace(cfg.train, epochs=1))
    result = train_run(cfg, "cpu")
    assert result.history.steps == 9 and result.metrics["mse"] > 0  # 288 training images in batches of 32
    info = runs.save_run(result, tmp_path)
    model = runs.load_model(info.id, tmp_path)
    x = to_float(load_dataset(cfg.data)[1].x)
    with torch.no_grad():
        assert torch.equal(model(x), result.model.eval()(x))  # running statistics came back too


@pytest.mark.parametrize("name", [n for n, p in PRESETS.items() if p.seconds and p.config.data.name.endswith("-sample")])
def test_each_demo_preset_beats_pca_with_its_code_size_on_its_own_sample(name):
    """The quality claim behind every demo preset, as trained from the Train page; a denoising preset on its own
    task (its noise in, the clean image the target) against PCA projecting the same noisy images."""
    from aecore.denoise import denoising_scores, noisy_images
    from aecore.presets import get_preset
    from aecore.reference import pca_scores
    from aecore.train import train_run

    cfg = get_preset(name)
    result = train_run(cfg, "cpu")
    assert result.history.ok, result.history.message
    train, test = load_dataset(cfg.data)
    k, t = cfg.model.latent_dim, cfg.train
    if t.denoising:
        scores = denoising_scores(result.model, test, t.noise, t.noise_level, seed=7)
        pca = pca_scores(train, test, (k,), noisy_images(test, t.noise, t.noise_level, seed=7))[k]
    else:
        scores, pca = result.metrics, pca_scores(train, test, (k,))[k]
    assert scores["ssim"] > pca["ssim"] and scores["mse"] < pca["mse"], (scores, pca)
