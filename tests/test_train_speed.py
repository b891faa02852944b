"""fit reads losses back from the device a few times a second, not every step, and still stops at a bad loss."""

import math

import pytest
import torch

from aecore.config import ModelConfig, TrainConfig
from aecore.data import Split
from aecore.models import build_model
from aecore.step_log import READ_EVERY
from aecore.train import TrainEvent, fit

STEPS = 600


def _many_tiny_batches() -> Split:
    """600 8x8 images for batches of one: hundreds of steps of a few microseconds' work each."""
    x = torch.randint(0, 256, (STEPS, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return Split(x, torch.zeros(STEPS, dtype=torch.int64), ("all",))


class Poisoned(torch.nn.Module):
    """A real mlp_ae whose loss is multiplied by `factor` at one training step, as a blown-up batch would be."""

    def __init__(self, shape, at: int | None = None, factor: float = math.nan):
        super().__init__()
        self.inner = build_model(ModelConfig("mlp_ae", 2, (8,)), shape, seed=0)
        self.at, self.factor, self.calls = at, factor, 0

    def loss(self, x, target, generator=None):
        self.calls += 1
        loss, logs = self.inner.loss(x, target, generator)
        if self.calls == self.at:
            loss = loss * self.factor
            logs = {**logs, "loss": loss.detach()}
        return loss, logs


def test_losses_are_read_back_a_few_times_a_second_and_every_step_is_still_reported():
    split = _many_tiny_batches()
    model = Poisoned(split.shape)
    seen: list[tuple[TrainEvent, float]] = []  # events handed over in one read-back see the same weights

    def on_step(e: TrainEvent) -> None:
        seen.append((e, sum(float(p.detach().sum()) for p in model.parameters())))

    history = fit(model, split, None, TrainConfig(epochs=1, batch_size=1, patience=0, val_fraction=0.0), "cpu", on_step)
    steps = [(e, w) for e, w in seen if not e.epoch_end]
    assert history.status == "done" and [e.step for e, _ in steps] == list(range(1, STEPS + 1))
    assert all(math.isfinite(e.logs["loss"]) for e, _ in steps)
    assert seen[-1][0].epoch_end and seen[-1][0].step == STEPS
    read_backs = 1 + sum(a != b for (_, a), (_, b) in zip(steps, steps[1:]))
    assert read_backs <= 2 + history.seconds / READ_EVERY, (read_backs, history.seconds)
    assert read_backs * 4 <= STEPS, read_backs  # not once a step


BAD = 400  # far from the first step and from the epoch's end: inside a run of unread steps


@pytest.fixture(scope="module")
def weights_before_the_bad_step() -> dict[str, torch.Tensor]:
    """The weights that the steps before BAD leave, trained without any bad loss."""
    split = _many_tiny_batches()
    clean = Poisoned(split.shape)
    cfg = TrainConfig(epochs=1, batch_size=1, patience=0, val_fraction=0.0, max_steps=BAD - 1)
    history = fit(clean, split, None, cfg, "cpu")
    assert history.status == "done" and history.steps == BAD - 1
    return clean.state_dict()


@pytest.mark.parametrize("factor, says", [(math.nan, "became nan"), (math.inf, "became inf"), (1e9, "rose to")])
def test_a_bad_loss_mid_epoch_is_caught_at_its_step_and_no_update_from_it_is_kept(factor, says, weights_before_the_bad_step):
    split = _many_tiny_batches()
    model = Poisoned(split.shape, at=BAD, factor=factor)
    events: list[TrainEvent] = []
    history = fit(model, split, None, TrainConfig(epochs=1, batch_size=1, patience=0, val_fraction=0.0), "cpu", events.append)
    assert history.status == "diverged" and not history.ok and not history.epochs
    assert f"at step {BAD} (epoch 1)" in history.message and says in history.message, history.message
    assert history.steps == BAD - 1 and [e.step for e in events] == list(range(1, BAD))
    for k, v in weights_before_the_bad_step.items():  # untouched by the bad step and by those queued after it
        assert torch.equal(model.state_dict()[k], v), k
