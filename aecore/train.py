"""Training: `fit()` runs the optimisation loop, `train_run()` goes from a RunConfig to a scored model.

`fit` reports only through `on_step`, which receives small frozen `TrainEvent`s, and asks
`should_stop` once per batch, so the command line, background jobs and tests drive the same loop.
Batches are drawn by shuffled index from uint8 tensors already on the device: no DataLoader,
no per-sample transform (see benchmarks/bench_train.py for what that buys).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from .config import RunConfig, TrainConfig
from .data import Split, load_dataset, split_validation, to_float
from .device import autocast, make_adam, pick_device
from .models import build_model
from .noise import corrupt

STATUSES = ("done", "early_stopped", "stopped", "diverged")


@dataclass(frozen=True)
class TrainEvent:
    epoch: int  # 1-based
    step: int  # optimiser steps so far, 1-based
    total_steps: int
    logs: dict[str, float]  # this batch's losses; at an epoch end also val_* and the epoch means
    images_per_sec: float
    epoch_end: bool = False


@dataclass(frozen=True)
class History:
    status: str  # one of STATUSES
    epochs: tuple[dict[str, float], ...]  # per epoch: epoch, train_loss, val_loss, train_mse, val_mse, seconds
    steps: int
    seconds: float
    images_per_sec: float
    best_epoch: int = 0  # epoch whose weights the model holds at the end (0: none finished)
    message: str = ""

    @property
    def ok(self) -> bool:
        """Whether the result may be shown as a trained model."""
        return self.status in ("done", "early_stopped")


@dataclass(frozen=True)
class TrainResult:
    config: RunConfig
    model: nn.Module
    history: History
    metrics: dict[str, float] = field(default_factory=dict)  # over the test split; empty unless history.ok


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


def fit(
    model: nn.Module,
    train: Split,
    val: Split | None,
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    on_step: Callable[[TrainEvent], None] = lambda e: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> History:
    """Train `model` in place with Adam on train images (target = clean image), scoring val each epoch."""
    device = torch.device(device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    model.to(device).train()
    x_train = train.x.to(device)
    n = len(train)
    batch = min(cfg.batch_size, n)
    per_epoch = math.ceil(n / batch)
    total = per_epoch * cfg.epochs if not cfg.max_steps else min(cfg.max_steps, per_epoch * cfg.epochs)
    opt = make_adam(model.parameters(), cfg.lr, cfg.weight_decay, device)

    epochs: list[dict[str, float]] = []
    best, best_epoch, best_state, waited = math.inf, 0, None, 0
    step, seen, status, message = 0, 0, "done", ""
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        epoch_start, sums, count = time.perf_counter(), {}, 0
        perm = torch.randperm(n, generator=gen, device=device)
        for i in range(per_epoch):
            if should_stop():
                status, message = "stopped", f"stopped at step {step}"
                break
            target = to_float(x_train[perm[i * batch:(i + 1) * batch]])
            inputs = corrupt(target, cfg.noise, cfg.noise_level, gen) if cfg.denoising else target
            with autocast(device, cfg.bf16):
                loss, logs = model.loss(inputs, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(target)
            values = {k: float(v) for k, v in logs.items()}
            if not math.isfinite(values["loss"]):
                status, message = "diverged", f"loss became {values['loss']} at step {step} (epoch {epoch}); try a lower learning rate"
                break
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v * len(target)
            count += len(target)
            on_step(TrainEvent(epoch, step, total, values, seen / (time.perf_counter() - start)))
            if step >= total:
                break
        if status != "done" or count == 0:
            break
        row = {"epoch": float(epoch), **{f"train_{k}": v / count for k, v in sums.items()}}
        if val is not None:
            row.update({f"val_{k}": v for k, v in validate(model, val, device, cfg).items()})
        row["seconds"] = time.perf_counter() - epoch_start
        epochs.append(row)
        monitored = row.get("val_loss", row["train_loss"])
        if not math.isfinite(monitored):
            status, message = "diverged", f"validation loss became {monitored} after epoch {epoch}"
            break
        if monitored < best - cfg.min_delta:
            best, best_epoch, waited = monitored, epoch, 0
            best_state = copy.deepcopy(model.state_dict()) if cfg.patience else None
        else:
            waited += 1
        on_step(TrainEvent(epoch, step, total, row, seen / (time.perf_counter() - start), epoch_end=True))
        if step >= total:
            break
        if cfg.patience and waited >= cfg.patience:
            status, message = "early_stopped", f"no improvement of {cfg.min_delta} in {cfg.patience} epochs; kept epoch {best_epoch}"
            break
    if status == "early_stopped" and best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = len(epochs)
    seconds = time.perf_counter() - start
    model.eval()
    return History(status, tuple(epochs), step, seconds, seen / max(seconds, 1e-9), best_epoch, message)


@torch.inference_mode()
def validate(model: nn.Module, split: Split, device: torch.device, cfg: TrainConfig, batch_size: int = 1000) -> dict[str, float]:
    """Mean losses over a split, with the same input corruption as training (seeded, so comparable per epoch)."""
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    sums: dict[str, float] = {}
    try:
        for i in range(0, len(split), batch_size):
            target = to_float(split.x[i:i + batch_size], device)
            inputs = corrupt(target, cfg.noise, cfg.noise_level, gen) if cfg.denoising else target
            with autocast(device, cfg.bf16):
                _, logs = model.loss(inputs, target)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(target)
    finally:
        model.train(was_training)
    return {k: v / len(split) for k, v in sums.items()}


def train_run(
    cfg: RunConfig,
    device: torch.device | str | None = None,
    on_step: Callable[[TrainEvent], None] = lambda e: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> TrainResult:
    """Load the data, build the model, fit it and score it on the test split."""
    from .metrics import evaluate

    device = torch.device(device) if device is not None else pick_device()
    train, test = load_dataset(cfg.data)
    train, val = split_validation(train, cfg.train.val_fraction, cfg.train.seed)
    torch.manual_seed(cfg.train.seed)  # weights initialise the same way for the same seed
    model = build_model(cfg.model, train.shape)
    history = fit(model, train, val, cfg.train, device, on_step, should_stop)
    metrics = evaluate(model, test, device) if history.ok else {}
    return TrainResult(cfg, model, history, metrics)


def reconstruct(model: nn.Module, x: Tensor, device: torch.device | str = "cpu") -> Tensor:
    """Reconstructions of uint8 or float images, float in [0, 1] on the CPU."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            xf = to_float(x, device) if x.dtype == torch.uint8 else x.to(device)
            return model(xf).clamp(0, 1).cpu()
    finally:
        model.train(was_training)
