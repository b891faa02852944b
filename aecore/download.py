"""Fetch the full FashionMNIST, MNIST or CIFAR-10: `download_dataset(name)`.

`download_dataset` tries torchvision's mirrors for each of the four files, checks each download against
torchvision's MD5 and unpacks it into `<root>/<FashionMNIST|MNIST>/raw`, where `load_dataset` reads it; CIFAR-10's
binary archive comes from its authors, checked against their MD5, and its six batch files go to
`<root>/cifar-10-batches-bin`.
Every failure, offline included, ends as a `DatasetUnavailable` that says what to do instead.
`aecore.prepare.start_download(name)` runs it in the background for a page.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import secrets
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from . import cifar
from .torchvision_shim import import_torchvision
from .torchvision_sets import FOLDERS, INFO, DatasetUnavailable, is_available, raw_folder

CHUNK = 1 << 16


def sources(name: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The mirrors and (file name, MD5) pairs for a dataset: torchvision's, or CIFAR-10's authors'."""
    if name == "cifar-10":
        return cifar.URLS, (cifar.ARCHIVE,)
    cls = getattr(import_torchvision().datasets, FOLDERS[name])
    return tuple(cls.mirrors), tuple((f, md5) for f, md5 in cls.resources)


def download_dataset(name: str, root: str | Path | None = None, on_progress: Callable[[float], None] = lambda f: None,
                     mirrors: Sequence[str] | None = None, timeout: float = 30.0) -> Path:
    """Download and unpack a torchvision dataset into `<root>/<Class>/raw`; returns that folder."""
    if name not in FOLDERS:
        raise ValueError(f"only {', '.join(FOLDERS)} can be downloaded; {name!r} is bundled or unknown")
    default_mirrors, resources = sources(name)
    mirrors = tuple(mirrors or default_mirrors)
    raw = raw_folder(name, root)
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetUnavailable(f"cannot create {raw.resolve()} ({err}); "
                                 "set AECORE_DATA_DIR to a folder you can write to") from err
    for i, (filename, md5) in enumerate(resources):
        target = raw / filename.removesuffix(".gz")
        if target.is_file() or (name == "cifar-10" and is_available(name, root)):
            on_progress((i + 1) / len(resources))
            continue
        errors = []
        for mirror in mirrors:
            try:
                packed = _fetch(f"{mirror}{filename}", timeout, lambda done: on_progress((i + done) / len(resources)))
                if hashlib.md5(packed).hexdigest() != md5:
                    raise ValueError("the file's checksum does not match torchvision's")
                if name == "cifar-10":
                    cifar.unpack(packed, raw)
                else:
                    _write_atomic(target, gzip.decompress(packed))
                break
            except (OSError, EOFError, ValueError, http.client.HTTPException) as err:  # CifarError is a ValueError
                errors.append(f"{mirror}: {err}")
        else:
            raise DatasetUnavailable(
                f"could not download {INFO[name]}: {filename} failed from every mirror "
                f"({'; '.join(errors)}). Check the internet connection and try again, copy the files into "
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
