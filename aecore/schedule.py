"""Learning-rate schedules: `make_scheduler(opt, cfg, total)` builds the one `fit` steps after every optimiser step.

Both schedules warm up over `cfg.warmup` of the run from lr / 25, which keeps Adam's first, badly scaled
steps small, then decay towards zero so the last epochs settle instead of hopping around a minimum.
"one_cycle" is Smith & Topin 2017 (arXiv:1708.07120) as torch implements it; "cosine" is a linear warm-up
followed by cosine annealing (Loshchilov & Hutter 2017, arXiv:1608.03983, without restarts).
"""

from __future__ import annotations

import torch
from torch.optim import lr_scheduler

from .config import TrainConfig

WARMUP_START = 1 / 25  # OneCycleLR's default div_factor: the rate starts at lr / 25
FINAL_SHARE = 1e-3  # where cosine ends, as a share of lr
MIN_STEPS = 4  # fewer steps than this have no room for a shape: the rate stays constant


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, total: int) -> lr_scheduler.LRScheduler | None:
    """The schedule cfg asks for over `total` optimiser steps, or None for a constant rate."""
    if cfg.lr_schedule == "constant" or total < MIN_STEPS:
        return None
    warm = min(round(cfg.warmup * total), total - 2)
    if cfg.lr_schedule == "one_cycle":
        # OneCycleLR divides by each phase's length in steps less one, so both phases get at least two steps;
        # momentum cycling is left off: Adam's beta1 is not the SGD momentum the paper cycles
        return lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=max(warm, 2) / total,
                                       div_factor=1 / WARMUP_START, cycle_momentum=False)
    cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=total - warm, eta_min=cfg.lr * FINAL_SHARE)
    if warm == 0:
        return cosine
    ramp = lr_scheduler.LinearLR(opt, start_factor=WARMUP_START, end_factor=1.0, total_iters=warm)
    return lr_scheduler.SequentialLR(opt, [ramp, cosine], milestones=[warm])
