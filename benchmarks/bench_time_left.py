"""Honest times: each preset's measured estimate against a real run, and "Time left" against the truth.

    python benchmarks/bench_time_left.py [--presets quick-demo,fashion-cnn,fashion-vae] [--images 10000]
                                         [--epochs 6] [--threads 2] [--busy 0.5]

For each preset: `aecore.machine_speed` measures it (a fresh cache file), `estimate` says how long a run takes,
then `train_run` trains it on the bundled FashionMNIST sample (`--images` training images, `--epochs`). Printed:
the estimate over the run's real time, and the share of "Time left" readings after a tenth of the run that are
within 25 % (+0.5 s) of the time truly left, for `aecore.time_left` and for the estimate it replaced (steps left at
the images per second since the start), both read from the same run's events: the reference is measured in the
same run.
`--busy 0.5` keeps one CPU busy for the first half of each run, as a shared machine is: the readings must follow
the change. Also printed: what `TimeLeft.update` costs per step event, against the run's time per step.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecore import machine_speed  # noqa: E402
from aecore.config import DataConfig  # noqa: E402
from aecore.data import dataset_sizes  # noqa: E402
from aecore.presets import PRESETS, get_preset  # noqa: E402
from aecore.time_left import TimeLeft  # noqa: E402
from aecore.train import TrainEvent, train_run  # noqa: E402


def within(events: list[tuple[float, float | None]], total: float) -> float:
    """The share of the events after a tenth of the run whose estimate is within 25 % of the time truly left,
    plus half a second (the page shows whole seconds): the bar tests/test_time_left.py holds."""
    late = [(t, e) for t, e in events if t >= 0.1 * total and total - t > 0]
    good = [e is not None and abs(e - (total - t)) <= 0.25 * (total - t) + 0.5 for t, e in late]
    return sum(good) / max(1, len(good))


def spin(seconds: float) -> None:
    """Keep one CPU busy for `seconds`: another visitor's work arriving on a shared machine."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def one_preset(name: str, images: int, epochs: int, folder: Path, busy: float = 0.0) -> dict[str, float]:
    cfg = get_preset(name)
    cfg = dataclasses.replace(cfg, data=DataConfig(name="fashion-mnist-sample", limit_train=images),
                              train=dataclasses.replace(cfg.train, epochs=epochs, patience=0))
    started = time.monotonic()
    costs = machine_speed.calibrate([cfg], "cpu", folder / f"{name}.json")[machine_speed.signature(cfg)]
    measuring = time.monotonic() - started
    promised = machine_speed.estimate(cfg, costs, *dataset_sizes(cfg.data))
    new, old = [], []
    batch = cfg.train.batch_size

    def on_event(e: TrainEvent) -> None:
        t = time.monotonic() - started
        new.append((t, e.seconds_left))
        speed = e.images_per_sec / batch
        old.append((t, (e.total_steps - e.step) / speed if e.step and speed > 0 else None))

    hog = None
    if busy:  # spawn, never fork, a process that has imported torch
        hog = multiprocessing.get_context("spawn").Process(target=spin, args=(busy * promised,))
        hog.start()
    started = time.monotonic()
    result = train_run(cfg, "cpu", on_event, previews=True)
    took = time.monotonic() - started
    if hog is not None:
        hog.join()
    return {"measuring_s": measuring, "estimate_s": promised, "run_s": took, "steps": result.history.steps,
            "new_within": within(new, took), "old_within": within(old, took)}


def update_cost(events: int = 30_000) -> float:
    """Microseconds `TimeLeft.update` takes per step event late in a long run (3,000 bursts behind it)."""
    now = [0.0]
    left = TimeLeft(10**8, 100, 128, 1000, 1000, clock=lambda: now[0])
    step = 0
    for _ in range(3000):
        now[0] += 0.25
        for _ in range(30):
            step += 1
            left.update(step)
    started = time.perf_counter()
    for _ in range(events):
        step += 1
        left.update(step)
    return (time.perf_counter() - started) / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="quick-demo,fashion-cnn,fashion-vae")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--busy", type=float, default=0.0,
                        help="keep one CPU busy for this share of each run's estimate from its start (0.5: the "
                             "first half), as another visitor's work would: how each estimate follows a change")
    args = parser.parse_args()
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        parser.error(f"unknown presets {unknown}; choose from {', '.join(PRESETS)}")
    torch.set_num_threads(args.threads)
    per_event = update_cost()
    print(f"{'preset':14} {'measure':>8} {'estimate':>9} {'run':>7} {'est/run':>8} {'time left ok':>13} "
          f"{'old method':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            r = one_preset(name, args.images, args.epochs, Path(folder), args.busy)
            print(f"{name:14} {r['measuring_s']:7.1f}s {r['estimate_s']:8.1f}s {r['run_s']:6.1f}s "
                  f"{r['estimate_s'] / r['run_s']:7.2f}x {r['new_within']:12.0%} {r['old_within']:10.0%}")
            step_us = r["run_s"] / max(1, r["steps"]) * 1e6
            print(f"{'':14} TimeLeft.update: {per_event:.1f} us per step event, {per_event / step_us:.2%} of a step")


if __name__ == "__main__":
    main()
