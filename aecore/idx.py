"""Read MNIST-style IDX files with the header checked first: `read_idx(path, rank, ...) -> np.ndarray`.

The full FashionMNIST and MNIST live in torchvision's layout, but torchvision's own reader trusts the file:
a wrong magic number is a bare AssertionError, an unknown type a KeyError, a cached `processed/*.pt` is
unpickled, and a header claiming ten images in front of a gigabyte reads the whole gigabyte first. Here
the header (magic, type, rank, sizes) is checked against the file's length and the app's bounds before a
byte of data is read, and no more is read than the header justifies. Every fault is an `IdxError` with one
plain sentence naming the file. A `.gz` beside a missing plain file is read through gzip the same way.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .store.limits import MAX_IDX_ITEMS, MAX_IDX_SIDE

# IDX type codes (http://yann.lecun.com/exdb/mnist/); only unsigned bytes are images and labels here
TYPES = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "16-bit integers", 0x0C: "32-bit integers",
         0x0D: "32-bit floats", 0x0E: "64-bit floats"}


class IdxError(ValueError):
    """An IDX file that cannot be read as what it should hold; the message names the file and the fault."""


def read_idx(path: Path, rank: int, side: int | None = None, max_items: int = MAX_IDX_ITEMS) -> np.ndarray:
    """The uint8 array an IDX file holds: (N,) for rank 1, (N, H, W) for rank 3, with H == W == side if given."""
    plain, packed = Path(path), Path(f"{path}.gz")
    source = plain if plain.exists() or not packed.exists() else packed
    try:
        with (gzip.open(source, "rb") if source is packed else open(source, "rb")) as f:
            return _read(f, source, rank, side, max_items, None if source is packed else source.stat().st_size)
    except (OSError, EOFError, gzip.BadGzipFile) as err:  # unreadable, or a broken gzip stream
        raise IdxError(f"{source.name} in {source.parent} cannot be read ({err})") from err


def _read(f: BinaryIO, path: Path, rank: int, side: int | None, max_items: int, size: int | None) -> np.ndarray:
    where = f"{path.name} in {path.parent}"
    head = f.read(4)
    if size == 0 or len(head) == 0:
        raise IdxError(f"{where} is empty")
    if len(head) < 4 or head[:2] != b"\0\0":
        raise IdxError(f"{where} is not an IDX file: it starts with bytes {head.hex(' ')}, not 00 00 08 0{rank}")
    dtype, got_rank = head[2], head[3]
    if dtype != 0x08:
        what = TYPES.get(dtype, f"an unknown data type (0x{dtype:02X})")
        raise IdxError(f"{where} holds {what}; images and labels must be unsigned bytes (type 0x08)")
    if got_rank != rank:
        raise IdxError(f"{where} has {got_rank} dimension(s); {'labels' if rank == 1 else 'images'} need {rank}")
    dims_bytes = f.read(4 * rank)
    if len(dims_bytes) < 4 * rank:
        raise IdxError(f"{where} ends inside its header")
    dims = struct.unpack(f">{rank}I", dims_bytes)
    if not 1 <= dims[0] <= max_items:
        raise IdxError(f"{where} says it holds {dims[0]:,} items; it must hold from 1 to {max_items:,}")
    if rank == 3 and not all(1 <= d <= MAX_IDX_SIDE and (side is None or d == side) for d in dims[1:]):
        want = f"{side}x{side}" if side else f"at most {MAX_IDX_SIDE}x{MAX_IDX_SIDE}"
        raise IdxError(f"{where} holds {dims[1]}x{dims[2]} px images; this dataset's are {want}")
    count = int(np.prod(dims, dtype=np.int64))
    expected = 4 + 4 * rank + count
    if size is not None and size != expected:
        raise IdxError(f"{where} is {size:,} bytes long, but its header describes {expected:,} bytes: "
                       "it is cut short or has something else appended")
    data = bytearray(count)  # read into place: a writable array, no second copy
    got = f.readinto(data)
    if got != count or (size is None and f.read(1)):
        raise IdxError(f"{where} does not hold the {count:,} bytes of data its header describes")
    return np.frombuffer(data, np.uint8).reshape(dims)
