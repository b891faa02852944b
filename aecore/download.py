"""Fetch the full FashionMNIST or MNIST into torchvision's layout: `download_dataset(name)`, or in the background.

`download_dataset` tries torchvision's mirrors for each of the four files, checks each download against
torchvision's MD5 and unpacks it into `<root>/<FashionMNIST|MNIST>/raw`, where `load_dataset` reads it.
Every failure, offline included, ends as a `DatasetUnavailable` that says what to do instead.
`start_download(name)` runs it in a background thread owned by this module, so a page can start it and
read `download_status(name)` while the user goes on clicking.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import secrets
import threading
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .data import _TORCHVISION, DATASET_INFO, DatasetUnavailable, data_dir, is_available

CHUNK = 1 << 16
DOWNLOAD_STATES = ("idle", "running", "done", "failed")


@dataclass(frozen=True)
class DownloadStatus:
    """How far a background download got, in plain values."""

    name: str
    state: str = "idle"  # one of DOWNLOAD_STATES
    fraction: float = 0.0  # 0..1 of the bytes of all files
    message: str = ""  # why it failed, and what to do


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


_status: dict[str, DownloadStatus] = {}
_lock = threading.Lock()


def download_status(name: str) -> DownloadStatus:
    """The latest state of the background download of `name` ("idle" if none was started)."""
    with _lock:
        return _status.get(name, DownloadStatus(name))


def start_download(name: str, root: str | Path | None = None, mirrors: Sequence[str] | None = None) -> DownloadStatus:
    """Start downloading `name` in a background thread unless it is running already; returns its status."""
    with _lock:
        current = _status.get(name, DownloadStatus(name))
        if current.state == "running":
            return current
        if is_available(name, root):
            _status[name] = DownloadStatus(name, "done", 1.0)
            return _status[name]
        _status[name] = DownloadStatus(name, "running")

    def set_status(**changes) -> None:
        with _lock:
            _status[name] = DownloadStatus(**{**_status[name].__dict__, **changes})

    def work() -> None:
        try:
            download_dataset(name, root, lambda f: set_status(fraction=f), mirrors)
            set_status(state="done", fraction=1.0, message="")
        except DatasetUnavailable as err:
            set_status(state="failed", message=str(err))
        except Exception as err:  # the page must learn of any failure, not wait forever
            set_status(state="failed", message=f"{type(err).__name__}: {err}")

    threading.Thread(target=work, name=f"aecore-download-{name}", daemon=True).start()
    return download_status(name)
