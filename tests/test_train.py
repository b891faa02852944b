import dataclasses
import math

import numpy as np
import pytest
import safetensors.torch
import torch

from fitting import FAST, fit_tiny
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.data import load_dataset, split_validation
from aecore.models import MODELS, build_model
from aecore.config import default_config
from aecore.noise import corrupt
from aecore.infer import image_uint8, reconstruct
from aecore.train import STATUSES, TrainEvent, fit, mean_image_mse, train_run

@pytest.mark.parametrize("kind", list(MODELS))
def test_fit_reports_every_step_and_is_deterministic_with_a_seed(kind, tiny_split):
    model_a, history, events = fit_tiny(kind, tiny_split)
    steps = [e for e in events if not e.epoch_end]
    assert [e.step for e in steps] == list(range(1, 9))  # 64 images / 16 x 2 epochs
    assert all(e.total_steps == 8 and math.isfinite(e.logs["loss"]) for e in steps)
    assert [e.epoch for e in events if e.epoch_end] == [1, 2]
    assert history.status == "done" and history.ok and history.steps == 8 and len(history.epochs) == 2
    model_b, history_b, _ = fit_tiny(kind, tiny_split)
    assert [e["train_loss"] for e in history.epochs] == [e["train_loss"] for e in history_b.epochs]
    assert all(torch.equal(p, q) for p, q in zip(model_a.parameters(), model_b.parameters()))


def test_validation_loss_is_recorded_per_epoch(tiny_split):
    train, val = split_validation(tiny_split, 0.25, 0)
    _, history, events = fit_tiny("mlp_ae", train, val=val)
    assert all("val_loss" in e and "train_loss" in e for e in history.epochs)
    assert "val_loss" in events[-1].logs and events[-1].epoch_end


def test_max_steps_stops_early(tiny_split):
    _, history, events = fit_tiny("conv_ae", tiny_split, dataclasses.replace(FAST, max_steps=3))
    assert history.steps == 3 and [e.step for e in events if not e.epoch_end] == [1, 2, 3]
    assert events[0].total_steps == 3


def test_stop_callable_ends_within_one_batch(tiny_split):
    calls = []
    _, history, events = fit_tiny("mlp_ae", tiny_split, should_stop=lambda: len(calls) >= 2 or calls.append(1) is not None and False)
    assert history.status == "stopped" and not history.ok
    assert history.steps == 2 and "stopped" in history.message










@pytest.mark.parametrize("noise", ["gaussian", "salt_pepper", "mask"])
def test_denoising_feeds_noisy_input_and_clean_target(noise, tiny_split):
    seen = []

    class Spy(torch.nn.Module):
        """A real model whose loss also records what it was given."""

        def __init__(self):
            super().__init__()
            self.inner = build_model(default_config("mlp_ae"), tiny_split.shape)

        def loss(self, x, target, generator=None):
            seen.append((x.detach().clone(), target.detach().clone()))
            return self.inner.loss(x, target, generator)

    cfg = dataclasses.replace(FAST, noise=noise, noise_level=0.3, max_steps=2)
    fit(Spy(), tiny_split, None, cfg)
    x, target = seen[0]
    assert not torch.equal(x, target)
    assert x.min() >= 0 and x.max() <= 1
    clean = set(torch.unique(target).tolist())
    assert clean <= {0.0, 1.0}


def test_denoising_training_removes_noise_better_than_plain():
    train, test = load_dataset(DataConfig(limit_train=2000, limit_test=200))
    x = test.x.float() / 255
    noisy = corrupt(x, "gaussian", 0.5, torch.Generator().manual_seed(5))
    errors = {}
    for noise, level in (("gaussian", 0.5), ("none", 0.0)):
        cfg = TrainConfig(epochs=4, batch_size=64, patience=0, noise=noise, noise_level=level)
        model, _, _ = fit_tiny("mlp_ae", train, cfg)
        errors[noise] = (reconstruct(model, noisy) - x).pow(2).mean().item()
    assert errors["gaussian"] < 0.95 * errors["none"]




def test_train_run_scores_the_test_split():
    cfg = RunConfig(DataConfig(limit_train=2000, limit_test=64), ModelConfig(), TrainConfig(epochs=1, batch_size=32))
    result = train_run(cfg, "cpu")
    assert result.history.ok
    assert set(result.metrics) >= {"mse", "mae", "psnr", "ssim"}
    assert 0 < result.metrics["mse"] < 0.2 and 0 < result.metrics["ssim"] < 1


def test_bf16_autocast_trains(tiny_split):
    _, history, _ = fit_tiny("conv_ae", tiny_split, dataclasses.replace(FAST, bf16=True))
    assert history.ok and math.isfinite(history.epochs[-1]["train_loss"])


def test_fit_learns_real_images():
    train, _ = load_dataset(DataConfig(limit_train=2000))
    _, history, _ = fit_tiny("mlp_ae", train, TrainConfig(epochs=3, batch_size=64, patience=0))
    losses = [e["train_loss"] for e in history.epochs]
    assert losses[-1] < losses[0] < 0.2






def _sample(limit_train: int = 1000, limit_test: int = 200) -> DataConfig:
    return DataConfig(limit_train=limit_train, limit_test=limit_test)


def test_mean_image_mse_is_the_mean_training_image_scored_on_the_test_split():
    train, test = load_dataset(_sample())
    mean = train.x.double().mean(dim=0) / 255
    expected = (test.x.double() / 255 - mean).pow(2).flatten(1).mean(dim=1).mean().item()
    assert mean_image_mse(train, test) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("kind", ["mlp_ae", "deep_mlp_ae"])
def test_a_run_no_better_than_the_average_image_gets_its_own_status(kind):
    cfg = RunConfig(_sample(), default_config(kind), TrainConfig(epochs=2, batch_size=64, lr=1.0, patience=0))
    result = train_run(cfg, "cpu")
    h, m = result.history, result.metrics
    assert "no_better" in STATUSES and h.status == "no_better" and not h.ok
    assert m["mse"] >= m["mean_image_mse"] > 0
    assert "average image" in h.message and "lower learning rate" in h.message
    train, test = load_dataset(cfg.data)
    train, _ = split_validation(train, cfg.train.val_fraction, cfg.train.seed)
    assert m["mean_image_mse"] == pytest.approx(mean_image_mse(train, test))


def test_a_good_run_keeps_its_status_and_records_the_reference():
    result = train_run(RunConfig(_sample(2000), ModelConfig(), TrainConfig(epochs=2, batch_size=64)), "cpu")
    assert result.history.status == "done" and result.metrics["mse"] < 0.8 * result.metrics["mean_image_mse"]


def test_vae_presets_have_a_min_delta_in_nats_and_the_classics_keep_theirs():
    from aecore.presets import PRESETS

    for name, preset in PRESETS.items():
        t, kind = preset.config.train, preset.config.model.kind
        assert t.min_delta == (0.5 if kind.endswith("vae") else 1e-3), name  # a VAE's loss is ~250 nats per image


def test_a_model_too_large_to_keep_is_refused_before_training_or_allocating():
    import resource

    from aecore.store.format import RunError

    cfg = RunConfig(DataConfig(name="digits"), ModelConfig("mlp_ae", 64, (4096,) * 8), TrainConfig(epochs=1))
    load_dataset(cfg.data)  # the data's own memory, before measuring
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(RunError, match="parameters, but the store keeps models of at most"):
        train_run(cfg, device="cpu")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB: not the 480 MB of weights


def _plain(events) -> list[tuple]:
    """Events without their timings, so two runs of one config compare equal."""
    return [(e.epoch, e.step, e.total_steps, e.epoch_end, {k: v for k, v in e.logs.items() if k != "seconds"})
            for e in events]


PIPELINE = RunConfig(DataConfig(limit_train=300, limit_test=40), ModelConfig(hidden=(32,)),
                     TrainConfig(epochs=2, batch_size=64, patience=0, seed=3))


def test_train_run_previews_the_strip_before_training_and_after_every_epoch():
    events: list[TrainEvent] = []
    result = train_run(PIPELINE, "cpu", events.append, previews=True)
    previews = [e for e in events if e.preview is not None]
    assert [(e.epoch, e.step, e.epoch_end) for e in previews] == [(0, 0, False), (1, 5, True), (2, 10, True)]
    assert events[0].originals.shape == (8, 28, 28) and events[0].originals.dtype == np.uint8
    assert result.preview_images.shape == (8, 1, 28, 28)
    assert np.array_equal(events[0].originals, result.preview_images.squeeze(1).numpy())
    assert np.array_equal(previews[-1].preview, image_uint8(reconstruct(result.model, result.preview_images)))
    assert result.savable and all(e.preview is None for e in events if e.step and not e.epoch_end)


def test_jobs_cli_and_demo_all_train_through_train_run(runs_dir, capsys):
    """The same config gives the same events, previews and weights whichever entry point runs it."""
    from aecore import anomaly, cli
    from aecore.jobs import JobRegistry
    from aecore.store.runs import list_runs, load_run

    events: list[TrainEvent] = []
    direct = train_run(PIPELINE, "cpu", events.append, previews=True)
    weights = direct.model.state_dict()

    reg = JobRegistry()
    p = reg.wait(reg.start(PIPELINE), 60)
    assert p.config == PIPELINE  # the RunConfig itself, not a dict to parse again
    assert list(p.curve) == [(e.step, e.logs["loss"]) for e in events if e.step and not e.epoch_end]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in p.epochs] == \
        [{k: v for k, v in e.logs.items() if k != "seconds"} for e in events if e.epoch_end]
    assert [epoch for epoch, _ in p.recons] == [0, 1, 2]
    assert all(np.array_equal(r, e.preview) for (_, r), e in zip(p.recons, (e for e in events if e.preview is not None)))
    job_run = load_run(p.run_id)
    assert (job_run.path / "preview.png").is_file()

    args = ["train", "--limit-train", "300", "--limit-test", "40", "--hidden", "32", "--epochs", "2",
            "--batch-size", "64", "--patience", "0", "--seed", "3", "--device", "cpu"]
    assert cli.main(args) == 0
    cli_run = next(r for r in list_runs() if r.id != p.run_id)
    assert cli_run.config == PIPELINE and (cli_run.path / "preview.png").is_file()
    assert (cli_run.path / "preview.png").read_bytes() == (job_run.path / "preview.png").read_bytes()
    for run in (job_run, cli_run):
        saved = safetensors.torch.load_file(run.path / "weights.safetensors")
        assert all(torch.equal(saved[k], weights[k]) for k in weights), run.id

    demo_events: list[TrainEvent] = []
    demo = anomaly.one_class_demo(3, epochs=2, seed=1, device="cpu", on_event=demo_events.append)
    again: list[TrainEvent] = []
    trained = train_run(anomaly.one_class_config("fashion-mnist-sample", 2, 1), "cpu", again.append,
                        select=lambda split: anomaly.one_class_split(split, 3))
    assert demo_events and _plain(demo_events) == _plain(again)
    test = load_dataset(DataConfig())[1]
    assert np.array_equal(demo.scores, anomaly.reconstruction_errors(trained.model, test))
