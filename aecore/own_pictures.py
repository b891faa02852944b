"""A folder or a zip of a person's pictures made into a dataset: `add_collection(name, source, options)`.

The layout is torchvision's `ImageFolder`: each sub-folder is a class (`cats/1.jpg`, `dogs/2.png`; deeper folders
belong to their top one), a flat folder is one class, and a zip holding one folder is read as that folder. Every
picture goes through the upload guards (`uploads.decode_rgb`: byte and pixel limits, only Pillow's own decoders,
EXIF orientation, transparency, 16 bits, CMYK), is made square (centre crop, or padded with black) and resized.
What cannot be read is skipped and listed with why. Before any picture is decoded, the number of files is
counted (a zip's from its end record, before Python builds an object per entry) and the decoded size is worked
out, so a zip bomb or a million tiny files is refused at once with bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from .data import Split
from .reference import collection_reference
from .store import collections
from .store.collections import (
    MAX_CLASSES,
    MAX_PICTURES,
    SIZES,
    CollectionError,
    CollectionInfo,
    Skipped,
)
from .uploads import MAX_BYTES as MAX_FILE_BYTES
from .uploads import ImageError, decode_rgb, square_picture

MIN_PICTURES = 50
MAX_ENTRIES = 60_000  # files and folders in a source: a few more than MAX_PICTURES leaves room for stray files
MAX_DECODED_BYTES = 256 * 2**20  # the kept arrays: 50,000 colour pictures at 32 px are 147 MB; at 64 px, 21,845 fit
SQUARES = ("crop", "pad")
COLOURS = ("auto", "colour", "grey")
GREY_TOLERANCE = 3  # channel values this close everywhere count as a grey picture (JPEG rounds them apart)
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class CollectionOptions:
    size: int = 32  # pixels a side: one of SIZES
    square: str = "crop"  # "crop": the centre square; "pad": the whole picture on black
    colour: str = "auto"  # "auto": colour when any picture is in colour; "colour"; "grey"
    test_fraction: float = 0.2  # held out per class
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise CollectionError(f"size must be one of {', '.join(map(str, SIZES))} pixels, got {self.size!r}")
        if self.square not in SQUARES:
            raise CollectionError(f"square must be one of {', '.join(SQUARES)}, got {self.square!r}")
        if self.colour not in COLOURS:
            raise CollectionError(f"colour must be one of {', '.join(COLOURS)}, got {self.colour!r}")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise CollectionError(f"test_fraction must be between 0.05 and 0.5, got {self.test_fraction!r}")


def add_collection(name: str, source: str | Path, options: CollectionOptions = CollectionOptions(),
                   root: str | Path | None = None, on_progress: Progress = lambda f, m: None,
                   source_name: str | None = None, owner: str = "") -> CollectionInfo:
    """Read a folder or a zip, keep it as a dataset with its reference scores, and return its info; `owner` (an
    `aecore.owners` digest) may rename and delete it."""
    name = collections.check_name(name)
    source = Path(source)
    files, skipped = [], []
    for parts, item in _entries(source):
        if parts is None:
            skipped.append(item)
        else:
            files.append((parts, item))
    if not files:
        raise CollectionError("There are no pictures in it: add PNG, JPEG, WebP, BMP or GIF files, "
                              "in one folder per class.")
    if len(files) > MAX_PICTURES:
        raise CollectionError(f"It holds {len(files):,} files; a collection takes at most {MAX_PICTURES:,} pictures.")
    if len(files) * 3 * options.size**2 > MAX_DECODED_BYTES:
        fit = MAX_DECODED_BYTES // (3 * options.size**2)
        raise CollectionError(f"{len(files):,} pictures of {options.size} px would take more than "
                              f"{MAX_DECODED_BYTES // 2**20} MB; at this size a collection takes at most {fit:,}. "
                              "Choose a smaller size or fewer pictures.")
    labels_of, class_names = _classes(files, source_name or source.stem)
    pictures, labels = [], []
    for i, (parts, read) in enumerate(files):
        shown = "/".join(parts)
        try:
            pictures.append(_square(decode_rgb(read())[0], options))
            labels.append(labels_of[i])
        except (ImageError, OSError, zipfile.BadZipFile, RuntimeError) as err:
            skipped.append(Skipped(shown, str(err)))
        if i % 50 == 0:
            on_progress(0.8 * i / len(files), f"Reading picture {i + 1:,} of {len(files):,}")
    if len(pictures) < MIN_PICTURES:
        raise CollectionError(f"Only {len(pictures)} of the pictures could be read; a collection needs at least "
                              f"{MIN_PICTURES} to train on." + _first_reasons(skipped))
    x = np.stack(pictures)  # (N, S, S, 3)
    y = np.asarray(labels, np.int64)
    x, y, class_names = _drop_empty_classes(x, y, class_names)
    x = _channels(x, options.colour)
    arrays = _split(x, y, len(class_names), options)
    content_hash = _hash(arrays, class_names, options)
    on_progress(0.85, "Working out how well simple methods redraw these pictures")
    reference = collection_reference(Split(torch.from_numpy(arrays["x_train"]), torch.from_numpy(arrays["y_train"]),
                                           class_names),
                                     Split(torch.from_numpy(arrays["x_test"]), torch.from_numpy(arrays["y_test"]),
                                           class_names))
    info = collections.new_info(name, class_names, options.size, x.shape[1], len(arrays["y_train"]),
                                len(arrays["y_test"]), source_name or source.name, content_hash, skipped, reference,
                                owner)
    on_progress(0.98, "Saving the collection")
    return collections.keep(info, arrays, root)


def _first_reasons(skipped: list[Skipped], n: int = 3) -> str:
    if not skipped:
        return ""
    return " Skipped: " + "; ".join(f"{s.path} ({s.why})" for s in skipped[:n]) + ("; …" if len(skipped) > n else "")


def _entries(source: Path) -> Iterator[tuple[tuple[str, ...] | None, Callable[[], bytes] | Skipped]]:
    """(path parts, a reader of the file's bytes) for every candidate file; (None, Skipped) for refused ones."""
    if source.is_dir():
        yield from _folder_entries(source)
    elif source.is_file() and zipfile.is_zipfile(source):
        yield from _zip_entries(source)
    elif source.is_file():
        raise CollectionError("That is not a folder or a zip file. Put the pictures in a folder (one sub-folder "
                              "per class) and give that, or a zip of it.")
    else:
        raise CollectionError(f"There is no folder or file at {source}.")


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _folder_entries(root: Path) -> Iterator[tuple[tuple[str, ...] | None, Callable[[], bytes] | Skipped]]:
    found: list[tuple[str, ...]] = []
    seen = 0
    for here, dirs, files in os.walk(root, followlinks=False):
        seen += len(dirs) + len(files)
        if seen > MAX_ENTRIES:
            raise CollectionError(f"The folder holds more than {MAX_ENTRIES:,} files and folders; a collection "
                                  f"takes at most {MAX_PICTURES:,} pictures.")
        dirs.sort()
        rel = Path(here).relative_to(root).parts
        for f in sorted(files):
            found.append((*rel, f))
    for parts in found:
        path = root.joinpath(*parts)
        if _hidden(parts):
            continue
        if path.is_symlink() or not path.is_file():
            yield None, Skipped("/".join(parts), "it is a link or not a plain file")
            continue
        yield parts, (lambda path=path: _read_file(path))


def _read_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"the file is larger than {MAX_FILE_BYTES // 2**20} MB")
    return data


def _zip_entries(path: Path) -> Iterator[tuple[tuple[str, ...] | None, Callable[[], bytes] | Skipped]]:
    count = _zip_entry_count(path)
    if count > MAX_ENTRIES:
        raise CollectionError(f"The zip holds {count:,} files and folders; a collection takes at most "
                              f"{MAX_PICTURES:,} pictures.")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CollectionError(f"The zip file could not be read ({err}).") from None
    for info in archive.infolist():
        parts = tuple(p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("/", "..", "."))
        if info.is_dir() or not parts or _hidden(parts):
            continue
        shown = "/".join(parts)
        if info.flag_bits & 0x1:
            yield None, Skipped(shown, "it is encrypted")
        elif info.file_size > MAX_FILE_BYTES:
            yield None, Skipped(shown, f"it is larger than {MAX_FILE_BYTES // 2**20} MB")
        else:
            yield parts, (lambda info=info: _read_member(archive, info))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """At most MAX_FILE_BYTES of a member, whatever its header claims: a bomb stops there."""
    try:
        with archive.open(info) as f:  # zipfile stops at the size the entry declares, and checks its CRC
            data = f.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError) as err:  # ValueError: zlib's own
        raise ImageError(f"it is damaged inside the zip ({err})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"it unpacks to more than {MAX_FILE_BYTES // 2**20} MB")
    return data


def _zip_entry_count(path: Path) -> int:
    """The entry count a zip's end record declares (zip64's where it says so), read before `zipfile` builds a
    Python object for each entry: with a million entries that alone costs gigabytes. `zipfile` has no public way."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65_557))  # the end record (22 bytes) and at most a 64 KiB comment
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            raise CollectionError("The zip file is damaged (it has no end record).")
        count = struct.unpack("<H", tail[at + 10:at + 12])[0]
        if count == 0xFFFF and at >= 20 and tail[at - 20:at - 16] == b"PK\x06\x07":  # zip64 locator
            f.seek(struct.unpack("<Q", tail[at - 12:at - 4])[0])
            record = f.read(56)
            if record[:4] != b"PK\x06\x06" or len(record) < 40:
                raise CollectionError("The zip file is damaged (its zip64 end record is missing).")
            count = struct.unpack("<Q", record[32:40])[0]
    return count


def _classes(files: list, fallback: str) -> tuple[list[int], tuple[str, ...]]:
    """Each file's class index and the class names: the first folder below any single folder they all share."""
    paths = [parts for parts, _ in files]
    common = 0
    while all(len(p) > common + 1 for p in paths) and len({p[common] for p in paths}) == 1:
        common += 1
    flat = (paths[0][common - 1] if common else fallback)[:collections.MAX_NAME] or "pictures"
    keys = [p[common] if len(p) > common + 1 else flat for p in paths]
    names = sorted(set(keys))
    if len(names) > MAX_CLASSES:
        raise CollectionError(f"It has {len(names):,} class folders; a collection takes at most {MAX_CLASSES:,}.")
    index = {n: i for i, n in enumerate(names)}
    return [index[k] for k in keys], tuple(n[:collections.MAX_NAME] for n in names)


def _square(rgb: np.ndarray, options: CollectionOptions) -> np.ndarray:
    return square_picture(rgb, options.size, options.square)


def _drop_empty_classes(x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Classes whose every picture was skipped are left out, and the labels renumbered."""
    present = np.unique(y)
    if len(present) == len(names):
        return x, y, names
    remap = np.full(len(names), -1, np.int64)
    remap[present] = np.arange(len(present))
    return x, remap[y], tuple(names[i] for i in present)


def _channels(x: np.ndarray, colour: str) -> np.ndarray:
    """(N, S, S, 3) to (N, C, S, S): grey (ITU-R 601 luma) when asked, or when "auto" finds no colour."""
    xi = x.astype(np.int16)
    is_grey = int(np.abs(xi[..., 0] - xi[..., 1]).max()) <= GREY_TOLERANCE and \
        int(np.abs(xi[..., 1] - xi[..., 2]).max()) <= GREY_TOLERANCE
    if colour == "grey" or (colour == "auto" and is_grey):
        luma = x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return np.round(luma).clip(0, 255).astype(np.uint8)[:, None]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _split(x: np.ndarray, y: np.ndarray, n_classes: int, options: CollectionOptions) -> dict[str, np.ndarray]:
    """A seeded test share of each class (at least one picture of any class with two or more)."""
    rng = np.random.default_rng(options.seed)
    test: list[np.ndarray] = []
    for k in range(n_classes):
        members = rng.permutation(np.flatnonzero(y == k))
        n_test = max(1, round(len(members) * options.test_fraction)) if len(members) >= 2 else 0
        test.append(members[:n_test])
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
    train_idx = rng.permutation(train_idx)  # training batches mix the classes from the first epoch
    return {"x_train": x[train_idx], "y_train": y[train_idx], "x_test": x[test_idx], "y_test": y[test_idx]}


def _hash(arrays: dict[str, np.ndarray], classes: tuple[str, ...], options: CollectionOptions) -> str:
    h = hashlib.sha256(json.dumps({"classes": classes, "size": options.size}).encode())
    for key in collections.ARRAYS:
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    return h.hexdigest()
