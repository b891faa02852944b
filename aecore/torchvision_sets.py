"""The full datasets read from disk: FashionMNIST and MNIST in torchvision's layout, and CIFAR-10 in colour in its
authors' binary layout (`aecore.cifar`): where their files live, whether they are there, and reading them header
first (`read_arrays`), so a damaged file is one `DatasetUnavailable` sentence naming it.

torchvision's own reader is never used: it trusts the files and unpickles cached `processed/*.pt` files
(`aecore.idx` says what it checks instead). Downloading them is `aecore.download`'s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import cifar
from .idx import IdxError, read_idx
from .settings import data_dir

# dataset name -> its folder under AECORE_DATA_DIR (torchvision's class name for the two it downloads)
FOLDERS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST", "cifar-10": cifar.FOLDER}
INFO = {
    "fashion-mnist": "FashionMNIST (torchvision, 60,000 train / 10,000 test)",
    "mnist": "MNIST (torchvision, 60,000 train / 10,000 test)",
    "cifar-10": "CIFAR-10 (colour photos, 32x32, 50,000 train / 10,000 test)",
}
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SIDE = 28
SIZES = {"fashion-mnist": (60_000, 10_000), "mnist": (60_000, 10_000), "cifar-10": (50_000, 10_000)}  # (train, test)


class DatasetUnavailable(RuntimeError):
    """A torchvision dataset is not on disk, is damaged, or could not be downloaded; the message says which."""


def raw_folder(name: str, root: str | Path | None = None) -> Path:
    """`<root>/<FashionMNIST|MNIST>/raw`, where torchvision's layout keeps the four files; CIFAR-10's six files
    sit in `<root>/cifar-10-batches-bin`, as its archive unpacks."""
    base = Path(root or data_dir()) / FOLDERS[name]
    return base if name == "cifar-10" else base / "raw"


def is_available(name: str, root: str | Path | None = None) -> bool:
    """Whether a dataset can be loaded without downloading (every dataset but these two always can)."""
    if name not in FOLDERS:
        return True
    raw = raw_folder(name, root)
    if name == "cifar-10":
        return all((raw / f).exists() for f in cifar.FILES)
    return all((raw / f).exists() or (raw / f"{f}.gz").exists() for f in RAW_FILES)


def read_arrays(name: str, root: str | Path | None, n_classes: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """((x_train, y_train), (x_test, y_test)): images (N, 28, 28), or CIFAR-10's (N, 3, 32, 32), and labels (N,),
    uint8, from the raw files."""
    raw = raw_folder(name, root)
    if not is_available(name, root):
        raise DatasetUnavailable(
            f"{INFO[name]} is not in {Path(root or data_dir()).resolve()}. Download it (on a machine with internet: "
            f"download=True, `--download` on the command line, or the Download button in the app), set "
            f"AECORE_DATA_DIR to a folder that holds {raw.relative_to(Path(root or data_dir()))}, or use a "
            f"bundled sample."
        )
    try:
        if name == "cifar-10":
            return cifar.read(raw)
        return tuple(_read_pair(raw, prefix, n_classes) for prefix in ("train", "t10k"))
    except (IdxError, cifar.CifarError) as err:
        raise DatasetUnavailable(
            f"{INFO[name]} cannot be loaded: {err}. Delete the damaged file and download it again "
            f"(the Download button, or `--download`), or use a bundled sample."
        ) from err


def _read_pair(raw: Path, prefix: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(raw / f"{prefix}-images-idx3-ubyte", rank=3, side=SIDE)
    labels = raw / f"{prefix}-labels-idx1-ubyte"
    y = read_idx(labels, rank=1)
    if len(y) != len(x):
        raise IdxError(f"{labels.name} in {raw} holds {len(y):,} labels for {len(x):,} images")
    if len(y) and int(y.max()) >= n_classes:
        raise IdxError(f"{labels.name} in {raw} holds label {int(y.max())}; this dataset's classes are 0 to "
                       f"{n_classes - 1}")
    return x, y
