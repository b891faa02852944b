"""Training: `fit()` runs the optimisation loop, `train_run()` goes from a RunConfig to a scored model.

`train_run` is the one pipeline: the command line, background jobs and the one-class demo all call it.
It reports only through `on_event`, which receives small frozen `TrainEvent`s (with the preview strip
redrawn at every epoch end when asked, so no caller needs to hold the model), and `should_stop` is asked
once per batch.
Batches are drawn by shuffled index from uint8 tensors already on the device: no DataLoader,
no per-sample transform (see benchmarks/bench_train.py for what that buys).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .config import RunConfig, TrainConfig
from .data import Split, load_dataset, split_validation, to_float
from .device import autocast, make_adam, pick_device
from .early_stopping import EarlyStopping
from .scoring import evaluate_with_images
from .infer import display_layout, evaluating, image_uint8, reconstruct
from .models import build_model, count_parameters
from .noise import corrupt
from .schedule import make_scheduler
from .step_log import Clock, StepLog, exploded
from .store.limits import check_size
from .time_left import TimeLeft

STATUSES = ("done", "early_stopped", "no_better", "stopped", "diverged")
STRIP_IMAGES = 8  # test images redrawn after every epoch when previews are asked for, and saved as the preview


@dataclass(frozen=True)
class TrainEvent:
    epoch: int  # 1-based
    step: int  # optimiser steps so far, 1-based
    total_steps: int
    logs: dict[str, float]  # this batch's losses; at an epoch end also val_* and the epoch means
    images_per_sec: float
    epoch_end: bool = False
    # with train_run(previews=True): the start event (epoch 0, step 0) carries the strip itself, and it
    # and every epoch end carry the model's reconstructions of it, both uint8 as `infer.image_uint8` shows them: grey (n, H, W) or colour (n, H, W, 3)
    originals: np.ndarray | None = None
    preview: np.ndarray | None = None
    seconds_left: float | None = None  # with train_run: the run's time left at its own pace (aecore.time_left)


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

    @property
    def finished(self) -> bool:
        """Whether training ran its course, so the model is kept: ok, or no better than the average image."""
        return self.ok or self.status == "no_better"


@dataclass(frozen=True)
class TrainResult:
    config: RunConfig
    model: nn.Module
    history: History
    metrics: dict[str, float] = field(default_factory=dict)  # test split, with mean_image_mse; empty unless finished
    preview_images: Tensor | None = None  # (n, C, H, W) uint8 strip of test images, for the run's preview
    test_scores: dict[str, np.ndarray] = field(default_factory=dict)  # each metric per test image, when metrics are

    @property
    def savable(self) -> bool:
        """Finished, or stopped and scored because the caller asked to keep the partial model."""
        return self.history.finished or (self.history.status == "stopped" and bool(self.metrics))


def fit(
    model: nn.Module,
    train: Split,
    val: Split | None,
    cfg: TrainConfig,
    device: torch.device | str = "cpu",
    on_step: Callable[[TrainEvent], None] = lambda e: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> History:
    """Train `model` in place with Adam on train images (target = clean image), scoring val each epoch.

    Everything random (batch order, input noise, a VAE's z) comes from one generator seeded with
    `cfg.seed`, never from torch's global one, so a seed repeats however many threads are busy.
    With `cfg.patience`, the model ends holding the epoch with the lowest validation loss.
    Every step gets its event, but in bursts: losses are read back from the device a few times a second.
    """
    # Set-up: the images on the device, the optimiser and its schedule, the clock and the step log.
    device = torch.device(device)
    model.to(device).train()
    total = total_steps(len(train), cfg)
    opt = make_adam(model.parameters(), cfg.lr, cfg.weight_decay, device)
    clock = Clock()
    start = clock.now()
    losses = StepLog(opt, device, clock, lambda e, k, logs, speed: on_step(TrainEvent(e, k, total, logs, speed)))
    loop = _Loop(model, opt, make_scheduler(opt, cfg, total), losses, train.x.to(device), cfg,
                 torch.Generator(device=device).manual_seed(cfg.seed), device, min(cfg.batch_size, len(train)), total,
                 should_stop)
    early = EarlyStopping(cfg.patience, cfg.min_delta)
    epochs: list[dict[str, float]] = []
    steps_taken, status, message = 0, "done", ""  # steps_taken: updates queued, which may run ahead of those reported
    for epoch in range(1, cfg.epochs + 1):
        # One epoch of steps, then every loss it queued read back.
        epoch_start = clock.now()
        losses.new_epoch(epoch)
        steps_taken, stopped = _run_epoch(loop, steps_taken)
        if not losses.report():
            status, message = "diverged", losses.diverged
            break
        if stopped:
            status, message = "stopped", f"stopped at step {losses.steps_reported}"
        if status != "done" or losses.count == 0:
            break
        # The epoch's row: mean training losses, validation losses and its time; a validation loss that blew up ends it.
        row = {**_epoch_losses(model, val, cfg, losses, epoch, device), "seconds": clock.now() - epoch_start}
        epochs.append(row)
        monitored = row.get("val_loss", row["train_loss"])
        if not (math.isfinite(monitored) and monitored <= losses.limit):
            status, message = "diverged", exploded("validation loss", monitored, losses.limit, f"after epoch {epoch}")
            break
        # Early stopping: remember the best epoch; stop at the last step or when patience runs out.
        early.update(model, epoch, monitored)
        on_step(TrainEvent(epoch, losses.steps_reported, total, row, losses.speed(), epoch_end=True))
        if steps_taken >= total:
            break
        if early.out_of_patience:
            status, message = "early_stopped", early.reason
            break
    # The end: the kept epoch's weights, in eval mode.
    kept = status in ("done", "early_stopped") and early.restore_best(model)
    seconds = clock.now() - start
    model.eval()
    return History(status, tuple(epochs), losses.steps_reported, seconds, losses.seen / max(seconds, 1e-9),
                   early.best_epoch if kept else len(epochs), message)


@dataclass(frozen=True)
class _Loop:
    """What every step of one fit uses, built once by `fit`."""

    model: nn.Module
    opt: torch.optim.Optimizer
    schedule: Any  # a learning-rate scheduler, or None for a constant rate
    losses: StepLog
    x: Tensor  # the training images on the device, uint8
    cfg: TrainConfig
    gen: torch.Generator
    device: torch.device
    batch: int
    total: int  # steps fit takes unless it stops early
    should_stop: Callable[[], bool]


def _run_epoch(loop: _Loop, steps_taken: int) -> tuple[int, bool]:
    """One epoch's optimiser steps in a fresh seeded order; returns the steps taken so far and whether a stop was asked."""
    loop.model.train()
    perm = torch.randperm(len(loop.x), generator=loop.gen, device=loop.device)
    for i in range(math.ceil(len(loop.x) / loop.batch)):
        if loop.losses.clock.ask(loop.should_stop):
            return steps_taken, True
        # index_select: 7 us for 128 images where x[idx]'s general indexing takes 59 us, 2 % of an mlp_ae step
        target = to_float(loop.x.index_select(0, perm[i * loop.batch:(i + 1) * loop.batch]))
        cfg = loop.cfg
        inputs = corrupt(target, cfg.noise, cfg.noise_level, loop.gen) if cfg.denoising else target
        with autocast(loop.device, cfg.bf16):
            loss, logs = loop.model.loss(inputs, target, loop.gen)
        if not loop.losses.add(logs, len(target)):  # no step is taken from a bad loss
            break
        loop.opt.zero_grad(set_to_none=True)
        loss.backward()
        loop.opt.step()
        if loop.schedule is not None:
            loop.schedule.step()
        steps_taken += 1
        if steps_taken >= loop.total or (loop.losses.due() and not loop.losses.report()):
            break
    return steps_taken, False


def _epoch_losses(model: nn.Module, val: Split | None, cfg: TrainConfig, losses: StepLog, epoch: int,
                  device: torch.device) -> dict[str, float]:
    """The epoch's mean training losses (over the steps reported) and, with a validation split, its losses."""
    row = {"epoch": float(epoch), **{f"train_{k}": v / losses.count for k, v in losses.sums.items()}}
    if val is not None:
        row.update({f"val_{k}": v for k, v in validate(model, val, device, cfg).items()})
    return row


def total_steps(n: int, cfg: TrainConfig) -> int:
    """Optimiser steps that fit takes on n training images, unless it stops early."""
    per_epoch = math.ceil(n / min(cfg.batch_size, n))
    return per_epoch * cfg.epochs if not cfg.max_steps else min(cfg.max_steps, per_epoch * cfg.epochs)


def validate(model: nn.Module, split: Split, device: torch.device, cfg: TrainConfig, batch_size: int = 1000) -> dict[str, float]:
    """Mean losses over a split, with the same input corruption as training (seeded, so comparable per epoch)."""
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    batches: list[tuple[dict[str, Tensor], int]] = []
    with evaluating(model):
        for i in range(0, len(split), batch_size):
            target = to_float(split.x[i:i + batch_size], device)
            inputs = corrupt(target, cfg.noise, cfg.noise_level, gen) if cfg.denoising else target
            with autocast(device, cfg.bf16):
                _, logs = model.loss(inputs, target, gen)
            batches.append((logs, len(target)))
    if not batches:
        return {}
    keys = list(batches[0][0])
    values = torch.stack([torch.stack([logs[k].float() for k in keys]) for logs, _ in batches]).tolist()  # one wait
    sums = {k: sum(row[j] * size for row, (_, size) in zip(values, batches)) for j, k in enumerate(keys)}
    return {k: v / len(split) for k, v in sums.items()}


def train_run(
    cfg: RunConfig,
    device: torch.device | str | None = None,
    on_event: Callable[[TrainEvent], None] = lambda e: None,
    should_stop: Callable[[], bool] = lambda: False,
    *,
    previews: bool = False,
    keep_partial: Callable[[], bool] = lambda: False,
    select: Callable[[Split], Split] | None = None,
) -> TrainResult:
    """Load the data, build the model, fit it and score it on the test split: the one pipeline.

    `previews` redraws the strip before the first batch and at every epoch end, into the events.
    `keep_partial()` is asked once a run has been stopped: True scores the partial model, so it may be saved.
    `select` narrows the training images before the validation split (the one-class demo keeps one class).
    """
    device = torch.device(device) if device is not None else pick_device()
    train, test = load_dataset(cfg.data)
    if select is not None:
        train = select(train)
    train, val = split_validation(train, cfg.train.val_fraction, cfg.train.seed)
    model = new_model(cfg, train.shape).to(device)
    strip = strip_images(test)
    steps = total_steps(len(train), cfg.train)
    batch = min(cfg.train.batch_size, len(train))
    left = TimeLeft(steps, math.ceil(steps / math.ceil(len(train) / batch)), batch, len(val) if val is not None else 0,
                    len(test))

    def redraw() -> np.ndarray:
        return image_uint8(reconstruct(model, strip, device))

    def on_step(e: TrainEvent) -> None:
        e = dataclasses.replace(e, preview=redraw()) if previews and e.epoch_end else e
        on_event(dataclasses.replace(e, seconds_left=left.update(e.step, e.epoch_end)))

    def stop_asked() -> bool:
        asked = time.monotonic()
        stop = should_stop()  # waits while the run is paused: that wait is no part of its pace
        left.idle(time.monotonic() - asked)
        return stop

    if previews:
        originals = display_layout(strip)
        on_event(TrainEvent(0, 0, steps, {}, 0.0, originals=originals, preview=redraw()))
    history = fit(model, train, val, cfg.train, device, on_step, stop_asked)
    metrics: dict[str, float] = {}
    per_image: dict[str, np.ndarray] = {}
    if history.finished:
        history, metrics, per_image = score(model, history, train, test, device)
    elif history.status == "stopped" and history.steps > 0 and keep_partial():
        metrics, per_image = evaluate_with_images(model, test, device)
    return TrainResult(cfg, model, history, metrics, strip, per_image)


def strip_images(test: Split, n: int = STRIP_IMAGES) -> Tensor:
    """The first test image of each class (then the next ones), so the strip shows variety; (n, C, H, W) uint8."""
    seen, picked = set(), []
    for i, label in enumerate(test.y.tolist()):
        if label not in seen:
            seen.add(label)
            picked.append(i)
        if len(picked) == n:
            break
    picked += [i for i in range(len(test)) if i not in picked][: n - len(picked)]
    return test.x[picked]


def new_model(cfg: RunConfig, input_shape: tuple[int, int, int]) -> nn.Module:
    """A model initialised from cfg's seed; refused before any memory is taken when the store could not keep it,
    so nobody trains for an hour to lose the result at save time."""
    with torch.device("meta"):  # shapes only: a 4096-wide stack costs nothing here
        check_size(count_parameters(build_model(cfg.model, input_shape)), "these settings")
    return build_model(cfg.model, input_shape, seed=cfg.train.seed)


def mean_image_mse(train: Split, test: Split, batch_size: int = 1000) -> float:
    """Test MSE of drawing every test image as the mean training image: what a model must beat to be of use."""
    sums = torch.zeros(train.shape, dtype=torch.int64)  # exact sums of uint8 pixels, a batch at a time
    for i in range(0, len(train), batch_size):
        sums += train.x[i:i + batch_size].sum(dim=0, dtype=torch.int64)
    mean = sums.float() / (255 * len(train))  # (C, H, W)
    total = 0.0
    for i in range(0, len(test), batch_size):
        total += float((to_float(test.x[i:i + batch_size]) - mean).pow(2).flatten(1).mean(dim=1).sum())
    return total / len(test)


def score(model: nn.Module, history: History, train: Split, test: Split, device: torch.device | str = "cpu",
          ) -> tuple[History, dict[str, float], dict[str, np.ndarray]]:
    """Test metrics with the mean-image reference, and each per test image; a run that does not beat the
    reference gets status no_better."""
    metrics, per_image = evaluate_with_images(model, test, device)
    metrics |= {"mean_image_mse": mean_image_mse(train, test)}
    if history.ok and not metrics["mse"] < metrics["mean_image_mse"]:  # NaN is no better either
        message = (f"test MSE {metrics['mse']:.4f} is no better than the average image's "
                   f"{metrics['mean_image_mse']:.4f}: try a lower learning rate or more epochs")
        history = dataclasses.replace(history, status="no_better", message=message)
    return history, metrics, per_image
