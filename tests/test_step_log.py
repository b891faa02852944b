"""What fit learns of each step: losses read back in bursts, and divergence found and reported with its step."""


import dataclasses
import math
import pytest
import torch
from fitting import FAST, fit_tiny
from aecore.config import DataConfig, ModelConfig, TrainConfig
from aecore.data import load_dataset
from aecore.models import build_model
from aecore.train import fit


def test_divergence_is_reported_with_its_step_never_as_good(tiny_split):
    cfg = dataclasses.replace(FAST, lr=10.0, epochs=20)
    model = build_model(ModelConfig("mlp_ae", 8, (32,), output="clamp"), tiny_split.shape)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1e30)  # overflow the first forward pass
    history = fit(model, tiny_split, None, cfg)
    assert history.status == "diverged" and not history.ok
    assert "step 1" in history.message and "learning rate" in history.message


@pytest.mark.parametrize("kind, lr", [("conv_vae", 10.0), ("conv_vae", 1.0), ("vae", 1.0)])
def test_a_loss_that_explodes_is_divergence_not_only_nan(kind, lr):
    train, _ = load_dataset(DataConfig(limit_train=256))
    _, history, events = fit_tiny(kind, train, TrainConfig(epochs=1, batch_size=32, lr=lr, patience=0))
    losses = [e.logs["loss"] for e in events if not e.epoch_end]
    assert history.status == "diverged" and not history.ok, losses
    assert "learning rate" in history.message and f"step {history.steps + 1} " in history.message
    assert len(losses) == history.steps and all(math.isfinite(v) for v in losses)  # stopped at the jump


def test_a_sound_run_at_a_high_learning_rate_is_not_called_divergence(tiny_split):
    _, history, events = fit_tiny("vae", tiny_split, dataclasses.replace(FAST, lr=0.03))
    losses = [e.logs["loss"] for e in events if not e.epoch_end]
    assert history.status == "done" and max(losses) > 2 * losses[0], losses  # a spike it recovers from
