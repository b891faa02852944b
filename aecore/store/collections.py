"""A person's own picture collections on disk: keep one, list, read back, rename, delete.

A collection lives in `AECORE_DATASETS_DIR/<id>/` as four uint8/int64 `.npy` arrays (read with `allow_pickle=False`,
header first) and `info.json` (its name, classes, size, source, content hash, what was skipped, and its reference
scores). The id is `pictures-` and the first 12 hex digits of the content hash: the same pictures with the same
settings are one dataset, and a run that names it finds it again after it is deleted and added back. Folders are
written under a temporary name and renamed into place, so a collection is there whole or not at all. A folder
someone copied in is checked like an upload: every field, every array's header against the info, before any
array is read.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..settings import datasets_dir
from .limits import MAX_JSON_BYTES

PREFIX = "pictures-"
ID_PATTERN = re.compile(r"pictures-[0-9a-f]{12}")
ARRAYS = ("x_train", "y_train", "x_test", "y_test")
SIZES = (28, 32, 64)  # pixels a side
MAX_PICTURES = 50_000
MAX_CLASSES = 1000
MAX_NAME = 80  # characters of a collection's or a class's name
MAX_SKIPPED_KEPT = 200  # skipped files listed in info.json; the count is kept whole


class CollectionError(ValueError):
    """A collection was refused or cannot be read; the message says why in plain words."""


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, and why."""

    path: str
    why: str


@dataclass(frozen=True)
class CollectionInfo:
    id: str
    name: str
    classes: tuple[str, ...]
    size: int  # pixels a side
    channels: int  # 1 (grey) or 3 (colour)
    train: int  # images in each split
    test: int
    source: str  # the folder's or the zip's name, as the person gave it
    hash: str  # sha256 of the arrays, the classes and the size
    added: float  # Unix time
    skipped: tuple[Skipped, ...] = ()
    skipped_count: int = 0
    reference: dict | None = None  # {"mean_image": {"mse", "ssim"}, "pca": {"k": {"mse", "ssim"}}}
    owner: str = ""  # who added it (aecore.owners): only they or the teacher may rename or delete it

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


def is_collection_id(name: str) -> bool:
    return bool(ID_PATTERN.fullmatch(name))


def collection_id(content_hash: str) -> str:
    return PREFIX + content_hash[:12]


def check_name(name: str) -> str:
    """A collection's name: any text a person types (shown as text, never as Markdown), trimmed, 1-80 characters."""
    if not isinstance(name, str):
        raise CollectionError(f"a collection's name must be text, got {type(name).__name__}")
    name = " ".join(name.split())
    if not name:
        raise CollectionError("Give the collection a name.")
    if len(name) > MAX_NAME or not name.isprintable():
        raise CollectionError(f"A collection's name must be at most {MAX_NAME} printable characters.")
    return name


def keep(info: CollectionInfo, arrays: dict[str, np.ndarray], root: str | Path | None = None) -> CollectionInfo:
    """Write a collection atomically; if the same content is kept already, that one is returned unchanged."""
    base = Path(root or datasets_dir())
    base.mkdir(parents=True, exist_ok=True)
    final = base / info.id
    if final.is_dir():
        return read_info(info.id, base)
    tmp = base / f".building-{secrets.token_hex(6)}"
    tmp.mkdir()
    try:
        for key in ARRAYS:
            np.save(tmp / f"{key}.npy", arrays[key], allow_pickle=False)
        (tmp / "info.json").write_text(json.dumps(_to_json(info)), encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():  # else the same pictures were kept a moment ago by another visitor
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return read_info(info.id, base)


def folder(dataset_id: str, root: str | Path | None = None) -> Path:
    if not is_collection_id(dataset_id):
        raise CollectionError(f"{dataset_id!r} is not a collection's id")
    return Path(root or datasets_dir()) / dataset_id


def exists(dataset_id: str, root: str | Path | None = None) -> bool:
    return is_collection_id(dataset_id) and (folder(dataset_id, root) / "info.json").is_file()


def read_info(dataset_id: str, root: str | Path | None = None) -> CollectionInfo:
    """The collection's info, every field checked; CollectionError if it is missing or malformed."""
    path = folder(dataset_id, root) / "info.json"
    if not path.is_file() or path.is_symlink():
        raise CollectionError(f"The picture collection {dataset_id} is not on this server any more (it was deleted).")
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"the file is larger than {MAX_JSON_BYTES // 2**20} MB")
        doc = json.loads(path.read_text(encoding="utf-8"))
        info = _from_json(doc)
    except (OSError, UnicodeDecodeError, RecursionError, ValueError, TypeError, KeyError) as err:
        raise CollectionError(f"The picture collection {dataset_id} is damaged ({type(err).__name__}: {err}); "
                              "delete it and add the pictures again.") from None
    if info.id != dataset_id:
        raise CollectionError(f"The picture collection {dataset_id} is damaged (its info names {info.id}); "
                              "delete it and add the pictures again.")
    return info


def load(dataset_id: str, root: str | Path | None = None) -> tuple[CollectionInfo, dict[str, np.ndarray]]:
    """The info and the four arrays, each array's header checked against the info before it is read."""
    info = read_info(dataset_id, root)
    base = folder(dataset_id, root)
    shapes = {"x_train": (info.train, *info.shape), "y_train": (info.train,),
              "x_test": (info.test, *info.shape), "y_test": (info.test,)}
    arrays = {}
    for key in ARRAYS:
        dtype = np.uint8 if key.startswith("x") else np.int64
        arrays[key] = _read_array(base / f"{key}.npy", shapes[key], np.dtype(dtype), dataset_id)
    for key in ("y_train", "y_test"):
        if len(arrays[key]) and not (0 <= arrays[key].min() and arrays[key].max() < len(info.classes)):
            raise CollectionError(f"The picture collection {dataset_id} is damaged (a label names no class); "
                                  "delete it and add the pictures again.")
    return info, arrays


def _read_array(path: Path, shape: tuple[int, ...], dtype: np.dtype, dataset_id: str) -> np.ndarray:
    try:
        if not path.is_file() or path.is_symlink():
            raise ValueError(f"{path.name} is missing")
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"{path.name} has an unknown format version")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            got_shape, fortran, got_dtype = read_header(f, max_header_size=10_000)
            if tuple(got_shape) != shape or got_dtype != dtype or fortran:
                raise ValueError(f"{path.name} holds {got_dtype} {tuple(got_shape)}, expected {dtype} {shape}")
            data = np.fromfile(f, dtype=dtype, count=math.prod(shape))
        if data.size != math.prod(shape):
            raise ValueError(f"{path.name} is cut short")
        return data.reshape(shape)
    except (OSError, ValueError) as err:
        raise CollectionError(f"The picture collection {dataset_id} is damaged ({err}); "
                              "delete it and add the pictures again.") from None


def list_all(root: str | Path | None = None) -> tuple[list[CollectionInfo], list[str]]:
    """Every kept collection, newest first, and a sentence for each folder that could not be read."""
    base = Path(root or datasets_dir())
    found, problems = [], []
    if not base.is_dir():
        return found, problems
    for path in sorted(base.iterdir()):
        if not is_collection_id(path.name) or not path.is_dir():
            continue
        try:
            found.append(read_info(path.name, base))
        except CollectionError as err:
            problems.append(str(err))
    return sorted(found, key=lambda c: -c.added), problems


def rename(dataset_id: str, new_name: str, root: str | Path | None = None) -> CollectionInfo:
    """Give a collection another name; runs keep finding it, since they name its id."""
    info = read_info(dataset_id, root)
    path = folder(dataset_id, root) / "info.json"
    doc = _to_json(info) | {"name": check_name(new_name)}
    tmp = path.with_name(f".info-{secrets.token_hex(4)}.json")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)
    return read_info(dataset_id, root)


def delete(dataset_id: str, root: str | Path | None = None) -> None:
    """Remove a collection at once (renamed away, then removed); runs trained on it stay and say it is gone."""
    path = folder(dataset_id, root)
    if not path.is_dir():
        raise CollectionError(f"The picture collection {dataset_id} is not on this server any more.")
    gone = path.with_name(f".deleting-{secrets.token_hex(6)}")
    os.replace(path, gone)
    shutil.rmtree(gone, ignore_errors=True)


def new_info(name: str, classes: tuple[str, ...], size: int, channels: int, train: int, test: int, source: str,
             content_hash: str, skipped: list[Skipped], reference: dict | None, owner: str = "") -> CollectionInfo:
    return CollectionInfo(collection_id(content_hash), check_name(name), classes, size, channels, train, test,
                          source[:1000], content_hash, time.time(), tuple(skipped[:MAX_SKIPPED_KEPT]), len(skipped),
                          reference, owner)


def _to_json(info: CollectionInfo) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "classes": list(info.classes), "size": info.size,
            "channels": info.channels, "train": info.train, "test": info.test, "source": info.source,
            "hash": info.hash, "added": info.added, "skipped": [[s.path, s.why] for s in info.skipped],
            "skipped_count": info.skipped_count, "reference": info.reference, "owner": info.owner}


def _from_json(doc: Any) -> CollectionInfo:
    if not isinstance(doc, dict):
        raise TypeError("info.json must hold an object")

    def text(key: str, limit: int) -> str:
        value = doc[key]
        if not isinstance(value, str) or len(value) > limit:
            raise ValueError(f"{key} must be text of at most {limit} characters")
        return value

    def whole(key: str, lo: int, hi: int) -> int:
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"{key} must be a whole number from {lo} to {hi}")
        return value

    classes = doc["classes"]
    if (not isinstance(classes, list) or not 1 <= len(classes) <= MAX_CLASSES
            or not all(isinstance(c, str) and 0 < len(c) <= MAX_NAME for c in classes)):
        raise ValueError(f"classes must be 1 to {MAX_CLASSES} names")
    size = whole("size", 1, 512)
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}")
    if whole("channels", 1, 3) not in (1, 3):
        raise ValueError("channels must be 1 or 3")
    skipped = doc.get("skipped", [])
    if (not isinstance(skipped, list) or len(skipped) > MAX_SKIPPED_KEPT
            or not all(isinstance(s, list) and len(s) == 2 and all(isinstance(t, str) for t in s) for s in skipped)):
        raise ValueError("skipped must be a list of [path, why] pairs")
    added = doc["added"]
    if isinstance(added, bool) or not isinstance(added, (int, float)) or not math.isfinite(added):
        raise ValueError("added must be a time")
    content_hash = text("hash", 64)
    if not re.fullmatch(r"[0-9a-f]{64}", content_hash):
        raise ValueError("hash must be 64 hex digits")
    return CollectionInfo(
        id=text("id", 30), name=check_name(text("name", MAX_NAME)), classes=tuple(classes), size=size,
        channels=doc["channels"], train=whole("train", 1, MAX_PICTURES), test=whole("test", 1, MAX_PICTURES),
        source=text("source", 1000), hash=content_hash, added=float(added),
        skipped=tuple(Skipped(p[:1000], w[:1000]) for p, w in skipped),
        skipped_count=whole("skipped_count", 0, 10**9), reference=_reference(doc.get("reference")),
        owner=_owner(doc.get("owner", "")))


def _owner(value: Any) -> str:
    """An owner digest (32 hex digits) or "" for none: a copied-in folder's odd value gives it no owner."""
    return value if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{32}", value) else ""


def _reference(value: Any) -> dict | None:
    """Reference scores as numbers only: {"mean_image": {...}, "pca": {"k": {...}}}; anything else is dropped."""
    if not isinstance(value, dict):
        return None

    def scores(d: Any) -> dict[str, float] | None:
        if not isinstance(d, dict):
            return None
        out = {k: float(d[k]) for k in ("mse", "ssim") if isinstance(d.get(k), (int, float))
               and not isinstance(d.get(k), bool) and math.isfinite(d[k])}
        return out if len(out) == 2 else None

    pca = value.get("pca") if isinstance(value.get("pca"), dict) else {}
    return {"mean_image": scores(value.get("mean_image")),
            "pca": {k: s for k, s in ((k, scores(v)) for k, v in list(pca.items())[:64]) if k.isdigit() and s}}
