"""Background work a page starts so the first click is quick: a full dataset downloaded, the worker processes
started (and their imports done), this machine's training speed measured (in a worker, where training runs).

Each is keyed work on the one executor (`aecore.background`): a page may ask on every rerun and joins the one
piece of work, two sessions share it, and the user goes on clicking while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import background, machine_speed, units, workers
from .config import RunConfig
from .device import pick_device
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


def warm_up() -> None:
    """Start the worker processes now, without waiting for them: each imports torch and the map libraries and
    makes its first Adam step (1.6 s of imports on a 2-core CPU) while the visitor is still choosing."""
    workers.pool().warm()


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

    key = ("machine-speed", str(path.resolve()), tuple(sorted(machine_speed.signature(c) for c in missing)))
    _speed_work[:] = [workers.submit(units.measure_speed, missing, str(device), str(path), kind="train", key=key)]
    return _speed_work[-1] if measuring_speed() else None  # done already: measured before, and not kept
