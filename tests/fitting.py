"""`fit` on a tiny split with every event recorded, for the tests of training, early stopping and the step log."""

from __future__ import annotations

import torch

from aecore.config import TrainConfig, default_config
from aecore.models import build_model
from aecore.train import TrainEvent, fit


FAST = TrainConfig(epochs=2, batch_size=16, patience=0)


def fit_tiny(kind, split, cfg=FAST, **kw):
    torch.manual_seed(cfg.seed)
    model = build_model(default_config(kind), split.shape)
    events: list[TrainEvent] = []
    history = fit(model, split, kw.pop("val", None), cfg, "cpu", events.append, **kw)
    return model, history, events
