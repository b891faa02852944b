"""A running training's time left, from its own pace: what the Train page shows as "Time left".

The steps left go at the pace of the recent steps, each epoch's validation pass takes what the passes already
made took, and the final scoring costs a validation pass's forward plus every metric per test image. The pace
is read over the last WINDOW_SHARE of the time spent stepping, so a machine that gets busier (or quieter)
mid-run, and the first steps' warm-up, show within seconds instead of being averaged in; time spent paused is
left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache

import torch

from .metrics import per_image_metrics

WINDOW_SHARE = 0.2
WINDOW_MIN = 1.0  # seconds: four bursts of reported steps (aecore.step_log), enough to read a pace from
MAX_INTERVALS = 4096
BURST = 0.01  # seconds: steps are reported in bursts (aecore.step_log), each burst's events a moment apart
FORWARD_SHARE = 3.0  # a training step's forward, backward and update cost about three forward passes


class TimeLeft:
    """Fed with each training event in order (`update`) and each wait outside training (`idle`).

    Steps are read back in bursts a few times a second (aecore.step_log), every step of a burst at the same
    moment, so the pace is measured between the ends of bursts within an epoch: an event after a gap ends the
    burst before it. What an epoch costs beyond its steps (the validation pass, and the first steps after it,
    where new batch shapes cost a fraction of a second) is measured from whole epochs, the first one left out
    because it also carries the start's one-off work; until a second epoch has ended it is the last pass.
    """

    def __init__(self, total_steps: int, epochs: int, batch: int, n_val: int, n_test: int,
                 clock: Callable[[], float] = time.monotonic):
        self.total_steps, self.epochs, self.batch, self.n_val, self.n_test = total_steps, epochs, batch, n_val, n_test
        self.clock = clock
        self.started = self.last = clock()
        self.idled = 0.0  # seconds paused: no part of the pace
        self.running = 0.0  # seconds running, at the last event
        self.burst_end: tuple[float, int] | None = None  # (seconds running, steps) at the end of the last burst
        self.bursts = 0  # bursts ended in this epoch
        self.intervals: list[tuple[float, float, int]] = []  # (ended at, seconds, steps) between bursts in an epoch
        self.epoch_ends: list[tuple[float, int]] = []  # (seconds running, steps) at each epoch's end
        self.passes: list[float] = []  # seconds each epoch-end pass took
        self.step = 0
        self.pace: float | None = None  # seconds per step, worked out as each burst ends
        self.extra_for: tuple[float, int] | None = None
        self.extra = 0.0  # seconds an epoch takes beyond its steps

    def idle(self, seconds: float) -> None:
        """Leave out time the run spent waiting (paused), which says nothing about its pace."""
        self.idled += max(0.0, seconds)

    def update(self, step: int, epoch_end: bool = False) -> float | None:
        """Record an event; returns the seconds left, or None before the first steps are reported."""
        now = self.clock()
        running = now - self.started - self.idled
        if epoch_end:
            self._end_burst()
            self.passes.append(running - self.running)
            self.epoch_ends.append((running, self.step))
            self.burst_end, self.bursts = None, 0  # the next epoch's first burst carries the switch back
        elif step > self.step:
            if now - self.last > BURST and self.step:
                self._end_burst()  # the previous event ended its burst
            self.step = step
        self.last, self.running = now, running
        return self.seconds_left()

    def _end_burst(self) -> None:
        if self.burst_end is not None and self.step > self.burst_end[1] and (self.bursts > 1 or self.epoch_ends):
            self.intervals.append((self.running, self.running - self.burst_end[0], self.step - self.burst_end[1]))
            if len(self.intervals) > MAX_INTERVALS:
                del self.intervals[: MAX_INTERVALS // 2]
            self.pace = self._pace()  # the pace changes only here: every other event reads it
        if self.burst_end is None or self.step > self.burst_end[1]:
            self.burst_end, self.bursts = (self.running, self.step), self.bursts + 1

    def _pace(self) -> float | None:
        """Seconds per step over the recent window (at least the last two intervals); None until one is known.
        Read from the newest interval back, so a long run's timeline costs no more than its window."""
        if not self.intervals:
            return None
        cutoff = self.running - max(WINDOW_MIN, WINDOW_SHARE * self.running)
        seconds = steps = 0.0
        for n, (ended, took, done) in enumerate(reversed(self.intervals)):
            if n >= 2 and ended < cutoff:
                break
            seconds, steps = seconds + took, steps + done
        return seconds / steps

    def step_seconds(self) -> float | None:
        """Seconds per step over the recent window; None until an interval after the first burst is known."""
        return self.pace

    def epoch_extra(self, per_step: float) -> float:
        """Seconds an epoch takes beyond its steps at the current pace."""
        walls = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(self.epoch_ends, self.epoch_ends[1:])]
        if walls:
            return max(0.0, sum(w - n * per_step for w, n in walls) / len(walls))
        if self.passes:
            return self.passes[-1]
        return per_step * self.n_val / (FORWARD_SHARE * self.batch)  # a validation image is a forward pass

    def seconds_left(self) -> float | None:
        per_step = self.pace
        if per_step is None:
            return None
        if self.extra_for != (per_step, len(self.epoch_ends)):  # a new pace or a new epoch: worked out once
            self.extra_for, self.extra = (per_step, len(self.epoch_ends)), self.epoch_extra(per_step)
        scoring = self.n_test * (per_step / (FORWARD_SHARE * self.batch) + metric_seconds())
        epochs_left = max(0, self.epochs - len(self.epoch_ends))
        return max(0, self.total_steps - self.step) * per_step + epochs_left * self.extra + scoring


@lru_cache(maxsize=1)
def metric_seconds(side: int = 28, n: int = 64) -> float:
    """Seconds every metric takes per test image on this machine, measured once per process (a few ms)."""
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.rand(n, 1, side, side, generator=gen) for _ in range(2))
    per_image_metrics(a, b)  # warm
    started = time.perf_counter()
    per_image_metrics(a, b)
    return (time.perf_counter() - started) / n
