"""Background work a page starts so the first click is quick: a full dataset downloaded, a dataset loaded
into memory, the first optimiser's imports done, this machine's training speed measured.

Each is keyed compute work on the one executor (`aecore.background`): a page may ask on every rerun and joins
the one piece of work, two sessions share it, and the user goes on clicking while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from . import background, machine_speed
from .config import DataConfig, RunConfig
from .data import load_dataset
from .device import make_adam, pick_device, set_threads
from .download import download_dataset
from .settings import data_dir
from .torchvision_sets import DatasetUnavailable, is_available

DOWNLOAD_STATES = ("idle", "running", "done", "failed", "stopped")  # idle: none started; running: under way


@dataclass(frozen=True)
class DownloadStatus:
    """How far a background download got, in plain values."""

    name: str
    state: str = "idle"  # one of DOWNLOAD_STATES
    fraction: float = 0.0  # 0..1 of the bytes of all files
    message: str = ""  # why it failed and what to do, or that it waits for other work to finish
    work_id: str | None = None  # the background work, for a page to wait on


_status: dict[str, str] = {}  # dataset name -> id of its latest download work
_speed_work: list[str] = []  # id of the latest speed measurement


def download_status(name: str) -> DownloadStatus:
    """The latest state of the background download of `name` ("idle" if none was started, or it was forgotten).

    Work still queued for a compute slot is under way as far as the page is concerned: "running", at 0.
    """
    try:
        s = background.snapshot(_status[name])
    except KeyError:
        return DownloadStatus(name)
    if s.state == "queued":
        return DownloadStatus(name, "running", 0.0, "waiting for other work to finish", s.id)
    return DownloadStatus(name, s.state, s.fraction, (s.message or s.error) if s.state == "failed" else "", s.id)


def start_download(name: str, root: str | Path | None = None, mirrors: Sequence[str] | None = None) -> DownloadStatus:
    """Start downloading `name` as background work unless it is under way already; returns its status."""
    if is_available(name, root):
        return DownloadStatus(name, "done", 1.0)

    def work(ctx: background.Context) -> background.Outcome | Path:
        try:
            return download_dataset(name, root, lambda f: ctx.report(f, "downloading"), mirrors)
        except DatasetUnavailable as err:  # already says what to do: shown as it is
            return background.Outcome("failed", message=str(err))

    _status[name] = background.submit(work, "compute", key=("download", name, str(root or data_dir())))
    return download_status(name)


def prefetch(cfg: DataConfig, root: str | Path | None = None) -> str | None:
    """Load a dataset into the in-process cache as background compute work, so that training starts at once.

    Returns the work's id, or None when the dataset is not on disk. Keyed by dataset and root.
    """
    if not is_available(cfg.name, root):
        return None
    name, folder = cfg.name, str(root or data_dir())

    def load(ctx: background.Context) -> None:
        load_dataset(DataConfig(name=name), root=folder)  # the splits stay in data's cache, not in the executor's entry

    return background.submit(load, "compute", key=("prefetch", name, folder))


def warm_up() -> str:
    """Make the process's first Adam step on a tiny model as background compute work; returns the work's id.

    The first optimiser in a process imports torch._dynamo (1.6 s on a 2-core CPU); done ahead of time,
    that wait stays off the first Train click. Keyed, so asking on every rerun joins the one warm-up.
    """
    return background.submit(lambda ctx: _one_step(), "compute", key=("warm-up",))


def _one_step() -> None:
    layer = torch.nn.Linear(4, 4)
    opt = make_adam(layer.parameters(), 1e-3, 0.0, torch.device("cpu"))
    layer(torch.ones(2, 4)).square().mean().backward()
    opt.step()


def measuring_speed() -> bool:
    """Whether this machine's speed is being measured (or waits to be): it holds a training place meanwhile."""
    return _under_way(_speed_work[-1]) if _speed_work else False


def _under_way(work_id: str) -> bool:
    try:
        return not background.snapshot(work_id).finished
    except KeyError:  # forgotten: long finished
        return False


def measure_speed(configs: Sequence[RunConfig], when_idle: Sequence[RunConfig] = ()) -> str | None:
    """Measure every set-up in `configs` not yet measured on this machine (aecore.machine_speed), as training
    work, so it never runs beside a training job it would slow down and be slowed by; returns the id of the
    work under way, or None when there is nothing to wait for. One measurement at a time: while one is under
    way, asking joins it; set-ups measured once but not kept (a read-only cache folder) are not measured again.
    `when_idle` set-ups (one visitor's own settings) are measured only while no model trains or waits to, so
    trying settings never holds up anyone's training."""
    if measuring_speed():
        return _speed_work[-1]
    if any(not s.finished for s in background.executor().snapshots("train")):
        when_idle = ()
    device = pick_device()
    path = machine_speed.default_path(device)
    known = machine_speed.load(path, device)
    missing = tuple({machine_speed.signature(c): c for c in (*configs, *when_idle)
                     if machine_speed.signature(c) not in known}.values())
    if not missing:
        return None

    def work(ctx: background.Context) -> None:
        set_threads()
        machine_speed.calibrate(missing, device, path, on_progress=ctx.report, should_stop=ctx.should_stop)

    key = ("machine-speed", str(path.resolve()), tuple(sorted(machine_speed.signature(c) for c in missing)))
    _speed_work[:] = [background.submit(work, "train", key=key)]
    return _speed_work[-1] if measuring_speed() else None  # done already: measured before, and not kept
