"""Learning-rate schedules: constant, one-cycle and cosine, warmed up and stepped to the very last step."""

from __future__ import annotations

import pytest
import torch
from aecore.config import LR_SCHEDULES, ModelConfig, TrainConfig
from aecore.data import Split
from aecore.models import build_model
from aecore.schedule import WARMUP_START
from aecore.train import fit
from torch import nn
from aecore.schedule import make_scheduler


SHAPE = (1, 28, 28)


def _rates(schedule: str, total: int, warmup: float = 0.2) -> list[float]:
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.01)
    sched = make_scheduler(opt, TrainConfig(lr_schedule=schedule, lr=0.01, warmup=warmup), total)
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return rates


def test_a_constant_schedule_keeps_the_rate():
    assert _rates("constant", 50) == [0.01] * 50


@pytest.mark.parametrize("schedule", ["one_cycle", "cosine"])
def test_schedules_warm_up_then_end_low(schedule):
    rates = _rates(schedule, 100)
    assert rates[0] == pytest.approx(0.01 * WARMUP_START, rel=1e-3)
    warm = rates[:20]
    assert all(a < b for a, b in zip(warm, warm[1:]))  # rising through the warm-up
    assert max(rates) == pytest.approx(0.01, rel=1e-2) and 15 <= rates.index(max(rates)) <= 21
    assert all(a >= b for a, b in zip(rates[21:], rates[22:]))  # then only falling
    assert rates[-1] < 0.01 * 0.01


def test_fit_steps_a_schedule_to_the_very_last_step():
    """OneCycleLR refuses a step past its total: fit's schedule must span exactly total_steps."""
    x = (torch.rand(96, *SHAPE, generator=torch.Generator().manual_seed(1)) * 255).to(torch.uint8)
    split = Split(x, torch.zeros(96, dtype=torch.int64), ("a",))
    model = build_model(ModelConfig("mlp_ae", 8, (32,)), SHAPE)
    for schedule in LR_SCHEDULES:
        events = []
        h = fit(model, split, None, TrainConfig(epochs=3, batch_size=32, lr_schedule=schedule), "cpu", events.append)
        assert h.status == "done" and h.steps == 9 and events[-1].step == 9
