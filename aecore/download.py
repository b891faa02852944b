"""Fetch the full FashionMNIST or MNIST into torchvision's layout: `download_dataset(name)`, or in the background.

`download_dataset` tries torchvision's mirrors for each of the four files, checks each download against
torchvision's MD5 and unpacks it into `<root>/<FashionMNIST|MNIST>/raw`, where `load_dataset` reads it.
Every failure, offline included, ends as a `DatasetUnavailable` that says what to do instead.
`start_download(name)` runs it as compute work on the one executor (`aecore.background`), so a page can
start it and read `download_status(name)` while the user goes on clicking, and two sessions share one download.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import secrets
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import background
from .data import _TORCHVISION, DATASET_INFO, DatasetUnavailable, data_dir, is_available

CHUNK = 1 << 16
DOWNLOAD_STATES = ("idle", "running", "done", "failed", "stopped")  # idle: none started; running: under way


@dataclass(frozen=True)
class DownloadStatus:
    """How far a background download got, in plain values."""

    name: str
    state: str = "idle"  # one of DOWNLOAD_STATES
    fraction: float = 0.0  # 0..1 of the bytes of all files
    message: str = ""  # why it failed and what to do, or that it waits for other work to finish
    work_id: str | None = None  # the background work, for a page to wait on


def sources(name: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """torchvision's mirrors and (file name, MD5) pairs for a dataset."""
    from .tv import import_torchvision

    cls = getattr(import_torchvision().datasets, _TORCHVISION[name])
    return tuple(cls.mirrors), tuple((f, md5) for f, md5 in cls.resources)


def download_dataset(name: str, root: str | Path | None = None, on_progress: Callable[[float], None] = lambda f: None,
                     mirrors: Sequence[str] | None = None, timeout: float = 30.0) -> Path:
    """Download and unpack a torchvision dataset into `<root>/<Class>/raw`; returns that folder."""
    if name not in _TORCHVISION:
        raise ValueError(f"only {', '.join(_TORCHVISION)} can be downloaded; {name!r} is bundled or unknown")
    default_mirrors, resources = sources(name)
    mirrors = tuple(mirrors or default_mirrors)
    raw = Path(root or data_dir()) / _TORCHVISION[name] / "raw"
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetUnavailable(f"cannot create {raw.resolve()} ({err}); "
                                 "set AECORE_DATA_DIR to a folder you can write to") from err
    for i, (filename, md5) in enumerate(resources):
        target = raw / filename.removesuffix(".gz")
        if target.is_file():
            on_progress((i + 1) / len(resources))
            continue
        errors = []
        for mirror in mirrors:
            try:
                packed = _fetch(f"{mirror}{filename}", timeout, lambda done: on_progress((i + done) / len(resources)))
                if hashlib.md5(packed).hexdigest() != md5:
                    raise ValueError("the file's checksum does not match torchvision's")
                _write_atomic(target, gzip.decompress(packed))
                break
            except (OSError, EOFError, ValueError, http.client.HTTPException) as err:
                errors.append(f"{mirror}: {err}")
        else:
            raise DatasetUnavailable(
                f"could not download {DATASET_INFO[name]}: {filename} failed from every mirror "
                f"({'; '.join(errors)}). Check the internet connection and try again, copy the four files into "
                f"{raw.resolve()} by hand, or train on a bundled sample."
            )
    on_progress(1.0)
    return raw


def _fetch(url: str, timeout: float, on_progress: Callable[[float], None]) -> bytes:
    """The bytes at `url`, reporting the share received when the size is known."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (mirrors are fixed https/http URLs)
        total = int(response.headers.get("Content-Length") or 0)
        chunks, got = [], 0
        while chunk := response.read(CHUNK):
            chunks.append(chunk)
            got += len(chunk)
            if total:
                on_progress(min(1.0, got / total))
    if total and got != total:
        raise EOFError(f"received {got} of {total} bytes")
    return b"".join(chunks)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
