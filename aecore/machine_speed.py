"""How long training takes here: each set-up's cost measured on this machine and kept on disk, and a whole run's
time from those costs (a running job's time left is `aecore.time_left`'s, from its own pace).

A time written into a preset's title is true on one machine only (a quick demo promised as 15 s took 49 s on a
quiet 2-core laptop and over 6 min on a busy one). So the app measures instead: `calibrate` makes a few real
training steps, one validation pass and one scoring pass of each set-up on images of the right shape (about a
second each, in the background), and `estimate` turns those costs into a run's time for any number of epochs
and images. The measurements are kept in the cache folder (`AECORE_CACHE_DIR`), in a file named for what they
depend on (the CPU, the thread count, torch, the device): when any of that changes, they are measured again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from . import settings
from .config import RunConfig
from .data import Split, dataset_sizes
from .device import available_cpus
from .scoring import evaluate_with_images
from .train import fit, new_model, total_steps, validate

FORMAT = 1
FILE_PREFIX = "machine-speed-"  # then a hash of `machine()`: another machine or set-up reads another file
MAX_FILE_BYTES = 1 << 20
MAX_ENTRIES = 500
MAX_SECONDS = 24 * 3600.0  # a cost above a day per step or image is not a measurement
TIMED_SECONDS = 0.4  # of timed steps per set-up: enough for a steady pace, short enough to measure all presets
VAL_IMAGES = 500
TEST_IMAGES = 250
IMAGE_SHAPE = (1, 28, 28)  # every dataset the app offers
MAX_IMAGES = 60_000  # random images to step through: 47 MB at 28 x 28
WARM_STEPS = 2  # a fresh model's first steps do one-off work (buffers, the optimiser's state): counted in `start`
MIN_STEPS = 5


@dataclass(frozen=True)
class Costs:
    """What one set-up costs on this machine, in seconds."""

    start: float  # once per run: building the model and the first step's one-off work
    step: float  # one training step at the set-up's batch size
    val_image: float  # one image of the validation pass at each epoch's end
    test_image: float  # one image of the final scoring, every metric


def signature(cfg: RunConfig, shape: tuple[int, ...] = IMAGE_SHAPE) -> str:
    """What a set-up's pace depends on: the model, the image shape, the batch size, the noise and the number
    format; not the images, the epochs, the learning rate or the seed."""
    t = cfg.train
    key = {"model": dataclasses.asdict(cfg.model), "shape": list(shape), "batch": t.batch_size,
           "noise": t.noise, "bf16": t.bf16}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def machine(device: torch.device | str = "cpu") -> dict[str, str | int]:
    """What the measurements hold for: a change in any of these measures again. The threads are those training
    uses (`aecore.device.set_threads`), whatever the asking process has set."""
    return dict(_machine(str(device)))


@lru_cache(maxsize=8)
def _machine(device: str) -> tuple[tuple[str, str | int], ...]:
    where = torch.device(device)
    name = torch.cuda.get_device_name(where) if where.type == "cuda" else _cpu_model()
    return (("format", FORMAT), ("device", device), ("name", name), ("cpus", available_cpus()),
            ("threads", settings.threads() or available_cpus()), ("torch", torch.__version__),
            ("python", platform.python_version()))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(cfg: RunConfig, device: torch.device | str = "cpu", shape: tuple[int, int, int] = IMAGE_SHAPE) -> Costs:
    """Time `cfg`'s own training steps, validation and scoring on random images of `shape` (the pace of these
    models does not depend on what the pictures show)."""
    device = torch.device(device)
    batch = cfg.train.batch_size
    gen = torch.Generator().manual_seed(0)
    n = max(min(MAX_IMAGES, 200 * batch), VAL_IMAGES, 3 * batch)  # the timed steps fit in one epoch, as in a real run
    images = Split(torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=gen),
                   torch.zeros(n, dtype=torch.int64), ("",))
    _step_marks(cfg, images, device, 3, 0.0)  # one-off work of the process: imports, allocator, kernels
    marks = _step_marks(cfg, images, device, n // batch - 1, TIMED_SECONDS)
    # Within one run: each step's start is marked, so the pace is read from the steps' own times; a pace from
    # the difference of two runs' totals is their noise when the steps are short (it once read as zero).
    first = min(WARM_STEPS, len(marks) - 3)
    step = max(1e-6, (marks[-1] - marks[1 + first]) / (len(marks) - 2 - first))
    model = new_model(cfg, shape).to(device)
    val = images.take(slice(0, VAL_IMAGES))
    validate(model, val.take(slice(0, 50)), device, cfg.train)  # warm
    started = time.perf_counter()
    validate(model, val, device, cfg.train)
    val_image = (time.perf_counter() - started) / VAL_IMAGES
    test = images.take(slice(0, TEST_IMAGES))
    started = time.perf_counter()
    evaluate_with_images(model, test, device)
    test_image = (time.perf_counter() - started) / TEST_IMAGES
    return Costs(max(0.0, marks[1 + first] - marks[0] - first * step), step, val_image, test_image)


def _step_marks(cfg: RunConfig, images: Split, device: torch.device, most: int, seconds: float) -> list[float]:
    """Times of a fresh model's fit: before the model is built, then as each step starts (the last mark ends the
    step before it); it stops after `seconds` of steps (and at least MIN_STEPS of them) or `most` steps."""
    train = dataclasses.replace(cfg.train, epochs=10_000, max_steps=max(MIN_STEPS, most), patience=0)
    marks = [time.perf_counter()]

    def mark() -> bool:
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # a mark is when the steps before it ran, not when they were queued
        marks.append(time.perf_counter())
        return len(marks) > MIN_STEPS + 1 and marks[-1] - marks[1] >= seconds

    fit(new_model(cfg, images.shape), images, None, train, device, should_stop=mark)
    return marks


def estimate(cfg: RunConfig, costs: Costs, n_train: int, n_test: int) -> float:
    """Seconds a run of `cfg` takes on `n_train` training images (before validation is held out) and `n_test`
    test images, at the measured costs; early stopping can only make it shorter."""
    steps, epochs, n_val, n_test = run_size(cfg, n_train, n_test)
    return costs.start + steps * costs.step + epochs * n_val * costs.val_image + n_test * costs.test_image


def seconds_here(configs: Mapping[str, RunConfig], device: torch.device | str = "cpu",
                 path: Path | None = None) -> dict[str, float]:
    """Seconds each set-up takes on this machine, for those whose costs are measured (keyed as `configs`)."""
    costs = load(path, device)
    return {name: estimate(cfg, costs[signature(cfg)], *dataset_sizes(cfg.data))
            for name, cfg in configs.items() if signature(cfg) in costs}


def run_size(cfg: RunConfig, n_train: int, n_test: int) -> tuple[int, int, int, int]:
    """(steps, epochs, validation images, test images) of a run of `cfg` on a dataset of that many images."""
    n_train = min(n_train, cfg.data.limit_train or n_train)
    n_test = min(n_test, cfg.data.limit_test or n_test)
    n_val = round(n_train * cfg.train.val_fraction)
    n_fit = max(1, n_train - n_val)
    steps = total_steps(n_fit, cfg.train)
    return steps, math.ceil(steps / math.ceil(n_fit / min(cfg.train.batch_size, n_fit))), n_val, n_test


def calibrate(configs: Iterable[RunConfig], device: torch.device | str = "cpu", path: Path | None = None,
              on_progress: Callable[[float, str], None] = lambda f, m: None,
              should_stop: Callable[[], bool] = lambda: False) -> dict[str, Costs]:
    """Measure every set-up not yet measured on this machine, keep the costs on disk, and return them all."""
    path = path or default_path(device)
    known = load(path, device)
    todo = {signature(c): c for c in configs if signature(c) not in known}
    for i, (key, cfg) in enumerate(todo.items()):
        if should_stop():
            break
        on_progress(i / len(todo), f"measuring this computer's speed ({i + 1} of {len(todo)})")
        known[key] = measure(cfg, device)
        try:
            save(path, known, device)  # each measurement kept as it comes: a stop keeps what was measured
        except OSError:
            break  # a read-only runs folder: nothing can be kept, so measuring more only costs time
    on_progress(1.0, "measured")
    return known


def default_path(device: torch.device | str = "cpu") -> Path:
    """This machine's file in the cache folder (`AECORE_CACHE_DIR`)."""
    digest = hashlib.sha256(json.dumps(machine(device), sort_keys=True).encode()).hexdigest()[:16]
    return settings.cache_dir() / f"{FILE_PREFIX}{digest}.json"


def load(path: Path | None = None, device: torch.device | str = "cpu") -> dict[str, Costs]:
    """The costs measured on this machine; empty when none are kept, they were measured on another machine or
    set-up, or the file is damaged (it is measured again: the file is only ever a cache)."""
    path = path or default_path(device)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return {}
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or raw.get("machine") != machine(device) or not isinstance(raw.get("costs"), dict):
        return {}
    costs = {}
    for key, values in list(raw["costs"].items())[:MAX_ENTRIES]:
        if (isinstance(key, str) and isinstance(values, list) and len(values) == 4
                and all(isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= MAX_SECONDS for v in values)):
            costs[key] = Costs(*(float(v) for v in values))
    return costs


def save(path: Path, costs: dict[str, Costs], device: torch.device | str = "cpu") -> None:
    """Write the costs atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"machine": machine(device), "costs": {k: list(dataclasses.astuple(c)) for k, c in costs.items()}}
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(body, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
