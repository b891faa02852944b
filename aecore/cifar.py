"""CIFAR-10, a colour set of 60,000 32x32 photos in ten classes, from its authors' binary version.

The binary version (`cifar-10-binary.tar.gz`, https://www.cs.toronto.edu/~kriz/cifar.html) is read rather than
the Python one torchvision uses, whose batches are pickles: nothing downloaded is unpickled here. Each `.bin`
file holds records of one label byte and 3,072 pixel bytes (the red, green and blue planes of a 32x32 image,
row by row); a file's size must be a whole number of records, and its labels 0 to 9, before it is used.
`unpack` takes only the six batch files from the archive, by their own names, whatever paths it holds.
"""

from __future__ import annotations

import io
import os
import secrets
import tarfile
from pathlib import Path

import numpy as np

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
FOLDER = "cifar-10-batches-bin"  # the archive's own folder, so an archive unpacked by hand works as it is
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
FILES = (*TRAIN_FILES, *TEST_FILES)
SIDE = 32
RECORD = 1 + 3 * SIDE * SIDE
PER_FILE = 10_000
URLS = ("https://www.cs.toronto.edu/~kriz/",)
ARCHIVE = ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")  # the authors' MD5, 170,052,171 bytes


class CifarError(ValueError):
    """A CIFAR-10 file that cannot be read as one; the message names it."""


def read(folder: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)): images (N, 3, 32, 32) uint8 and labels (N,) uint8."""
    return _read_files(folder, TRAIN_FILES), _read_files(folder, TEST_FILES)


def _read_files(folder: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for name in names:
        path = folder / name
        try:
            size = path.stat().st_size
            if size != PER_FILE * RECORD:
                raise CifarError(f"{name} in {folder} is {size:,} bytes; a CIFAR-10 batch is {PER_FILE * RECORD:,}")
            records = np.fromfile(path, np.uint8, PER_FILE * RECORD).reshape(PER_FILE, RECORD)
        except OSError as err:
            raise CifarError(f"{name} in {folder} cannot be read ({err})") from None
        if int(records[:, 0].max()) >= len(CLASSES):
            raise CifarError(f"{name} in {folder} holds label {int(records[:, 0].max())}; CIFAR-10's are 0 to 9")
        ys.append(records[:, 0])
        xs.append(records[:, 1:].reshape(PER_FILE, 3, SIDE, SIDE))
    return np.concatenate(xs), np.concatenate(ys)


def unpack(archive: bytes, folder: Path) -> None:
    """Write the six batch files of a downloaded archive into `folder`, each atomically; CifarError if one is
    missing or the wrong size."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile() and Path(m.name).name in FILES}
            for name in FILES:
                member = members.get(name)
                if member is None or member.size != PER_FILE * RECORD:
                    raise CifarError(f"the downloaded archive lacks {name}, or holds it at the wrong size")
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
                try:
                    tmp.write_bytes(data)
                    os.replace(tmp, folder / name)
                finally:
                    tmp.unlink(missing_ok=True)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise CifarError(f"the downloaded archive cannot be unpacked ({err})") from None
