"""What fit learns of each step while it runs: a clock of training time, and the step losses read back in bursts.

`StepLog` queues every step's losses on the device and reads them back a few times a second, finding a loss
that exploded without a wait per step; `Clock` leaves out the time a paused job waits in `should_stop`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import Tensor

# Divergence is a non-finite loss, or one over EXPLODED times the first batch's: the untrained model's,
# what a guess scores, which a sound run stays below. Measured over one epoch of the FashionMNIST sample:
# runs that still learn peak within 600x of it (a vae's spike at lr 0.03), while a vae at lr 0.1-1 jumps
# 1e5-1e14x and a conv_vae at lr 1-10 1e8-1e17x within two steps, and they end drawing one blur for
# every image. Runs in between (a conv_vae at lr 0.1 peaks at 1e3x) are left to the average-image check.
EXPLODED = 1e4
# Seconds between read-backs of the step losses: progress redrawn 4 times a second looks live, and on a GPU
# each read-back waits for every queued step.
READ_EVERY = 0.25
_FLOAT32_MAX = torch.finfo(torch.float32).max


class Clock:
    """Seconds of training: wall time less the time `should_stop` held the loop, where a paused job waits,
    so a pause shows in neither the images per second nor the training time."""

    def __init__(self):
        self.held = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.held

    def ask(self, should_stop: Callable[[], bool]) -> bool:
        began = time.perf_counter()
        try:
            return should_stop()
        finally:
            self.held += time.perf_counter() - began


class StepLog:
    """Each step's losses, queued on the device and read back in bulk, and the sums of those reported.

    A Python float from a CUDA tensor waits for every kernel queued before it, so reading each step's loss
    would leave the GPU idle once a step. The logs are stacked on the device instead and read back at most
    every READ_EVERY seconds and at each epoch's end. Divergence is found without waiting too: `bad` turns 1
    at the first loss that is not finite or is over the limit, and stays 1; fused Adam, handed it as
    `found_inf` (the switch GradScaler uses), then leaves weights, moments and step counts alone, so the
    model keeps what it held before the bad step, as if fit had stopped there. Any other optimiser has to
    look at each loss before its update: one wait per step.
    """

    def __init__(self, opt: torch.optim.Optimizer, device: torch.device, clock: Clock,
                 on_step: Callable[[int, int, dict[str, float], float], None]):
        """`on_step(epoch, step, logs, images_per_sec)` is called for every step read back, in order."""
        self.opt, self.on_step, self.clock = opt, on_step, clock
        self.start = clock.now()
        self.skips = bool(opt.defaults.get("fused"))  # the unfused Adams refuse found_inf
        self.bad = torch.zeros((), dtype=torch.float32, device=device)
        self.limit, self.cap = math.inf, _FLOAT32_MAX  # EXPLODED x the first batch's loss; the device's copy of it
        self.keys: tuple[str, ...] = ()
        self.queued: list[tuple[Tensor, Tensor, int]] = []  # (logs stacked in keys' order, bad after it, images)
        self.read_at = -math.inf
        self.steps_reported, self.seen, self.diverged = 0, 0, ""  # what has been reported
        self.epoch, self.sums, self.count = 0, {}, 0

    def new_epoch(self, epoch: int) -> None:
        self.epoch, self.sums, self.count = epoch, {}, 0

    def add(self, logs: dict[str, Tensor], n: int) -> bool:
        """Queue one batch's logs before its update; False when that update must not run."""
        if not self.keys:
            self.keys = ("loss", *(k for k in logs if k != "loss"))
        row = torch.stack([logs[k].detach().float() for k in self.keys])
        if self.steps_reported == 0 and not self.queued:  # the first batch sets the limit: one wait, once
            first = float(row[0])
            if 0 < first < math.inf:
                self.limit = EXPLODED * first
                self.cap = min(self.limit, _FLOAT32_MAX)
        self.bad = torch.where(row[0] <= self.cap, self.bad, 1.0)  # NaN <= cap is False as well
        self.queued.append((row, self.bad, n))
        if self.skips:
            self.opt.found_inf = self.bad
            return True
        return not float(self.bad)

    def due(self) -> bool:
        return time.perf_counter() - self.read_at >= READ_EVERY

    def report(self) -> bool:
        """Read back the queued steps and report each good one; False (and `diverged` says why) at a bad one."""
        if self.diverged or not self.queued:
            return not self.diverged
        rows = torch.cat((torch.stack([r for r, _, _ in self.queued]), torch.stack([b for _, b, _ in self.queued])[:, None]), 1)
        sizes = [size for _, _, size in self.queued]
        self.queued.clear()
        self.read_at = time.perf_counter()
        for (*values, bad), size in zip(rows.tolist(), sizes):  # the one wait for the device
            if bad:
                when = f"at step {self.steps_reported + 1} (epoch {self.epoch})"
                self.diverged = exploded("loss", values[0], self.limit, when)
                return False
            logs = dict(zip(self.keys, values))
            self.steps_reported, self.seen, self.count = self.steps_reported + 1, self.seen + size, self.count + size
            for k, v in logs.items():
                self.sums[k] = self.sums.get(k, 0.0) + v * size
            self.on_step(self.epoch, self.steps_reported, logs, self.speed())
        return True

    def speed(self) -> float:
        """Images per second over the steps reported so far."""
        return self.seen / (self.clock.now() - self.start)


def exploded(what: str, value: float, limit: float, when: str) -> str:
    if math.isfinite(value):
        return (f"{what} rose to {value:.3g} {when}, over {EXPLODED:g} times the untrained model's "
                f"{limit / EXPLODED:.3g}; try a lower learning rate")
    return f"{what} became {value} {when}; try a lower learning rate"
