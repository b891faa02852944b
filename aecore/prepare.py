"""Background work a page starts so the first click is quick: a full dataset downloaded, a dataset loaded
into memory, the first optimiser's imports done.

Each is keyed compute work on the one executor (`aecore.background`): a page may ask on every rerun and joins
the one piece of work, two sessions share it, and the user goes on clicking while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from . import background
from .config import DataConfig
from .data import load_dataset
from .device import make_adam
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
