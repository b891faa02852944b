"""Datasets by name, held in memory as uint8 tensors: `load_dataset(cfg) -> (train, test)`.

Bundled samples (real FashionMNIST and MNIST images shipped in `aecore/samples/`) and scikit-learn's
digits work offline; the full FashionMNIST and MNIST are read from torchvision's layout under
`AECORE_DATA_DIR` (default `./data`), header first (`aecore.idx`), so a damaged file is a `DatasetUnavailable`
that names it. A person's own picture collections (`aecore.own_pictures`, kept by `aecore.store.collections`)
are named by their id, `pictures-<hash>`, and may be in colour. Labels travel with the images for colouring
plots only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .cifar import CLASSES as CIFAR_CLASSES
from .config import DataConfig
from .download import download_dataset
from .settings import data_dir
from .store import collections
from .torchvision_sets import FOLDERS as TORCHVISION_FOLDERS
from .torchvision_sets import INFO as TORCHVISION_INFO
from .torchvision_sets import SIZES as TORCHVISION_SIZES
from .torchvision_sets import DatasetUnavailable, is_available, read_arrays  # noqa: F401 (re-exported)

SAMPLES_DIR = Path(__file__).parent / "samples"
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(i) for i in range(10))

DATASET_INFO = {
    "fashion-mnist-sample": "FashionMNIST sample (bundled, 10,000 train / 2,000 test)",
    "mnist-sample": "MNIST sample (bundled, 7,000 train / 1,200 test)",
    "digits": "scikit-learn digits (bundled, 8x8 scaled to 28x28)",
    **TORCHVISION_INFO,
}


@dataclass(frozen=True, eq=False)
class Split:
    """Images `x` (N, C, H, W) uint8, labels `y` (N,) int64, and the class names."""

    x: Tensor
    y: Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.x.dtype != torch.uint8 or self.x.ndim != 4:
            raise ValueError(f"x must be uint8 (N, C, H, W), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(f"y must have shape ({self.x.shape[0]},), got {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def take(self, idx: Tensor | slice) -> Split:
        return Split(self.x[idx], self.y[idx], self.classes)


def to_float(x: Tensor, device: torch.device | str | None = None) -> Tensor:
    """uint8 images to float32 in [0, 1], on the device (converting after the copy moves 4x fewer bytes)."""
    return x.to(device, non_blocking=True).float().div_(255.0)


def load_dataset(cfg: DataConfig, root: str | Path | None = None) -> tuple[Split, Split]:
    """The (train, test) splits of the dataset the config names, limited as it says."""
    require_present(cfg.name)
    train, test = _load(cfg.name, str(root or data_dir()), cfg.download)
    if cfg.limit_train:
        train = train.take(slice(0, cfg.limit_train))
    if cfg.limit_test:
        test = test.take(slice(0, cfg.limit_test))
    return train, test


def require_present(name: str) -> None:
    """DatasetUnavailable, in words, for a picture collection deleted from this server (callers that cache a
    dataset's splits ask first, so a deleted collection is not shown from a cache)."""
    if collections.is_collection_id(name) and not collections.exists(name):
        raise DatasetUnavailable(f"The picture collection this uses ({name}) was deleted from this server; add the "
                                 "same pictures on the Your pictures page to bring it back.")


def dataset_sizes(cfg: DataConfig) -> tuple[int, int]:
    """(training, test) images a run of `cfg` gets: the full sets' published sizes (nothing read or downloaded),
    the bundled ones' counted."""
    if cfg.name in TORCHVISION_FOLDERS:
        n_train, n_test = TORCHVISION_SIZES[cfg.name]
    elif collections.is_collection_id(cfg.name):
        try:
            info = collections.read_info(cfg.name)
        except collections.CollectionError as err:
            raise DatasetUnavailable(str(err)) from None
        n_train, n_test = info.train, info.test
    else:
        train, test = _load(cfg.name, str(data_dir()), False)
        n_train, n_test = len(train), len(test)
    return min(n_train, cfg.limit_train or n_train), min(n_test, cfg.limit_test or n_test)


def split_validation(train: Split, fraction: float, seed: int) -> tuple[Split, Split | None]:
    """Hold out a seeded random share of the training images for validation."""
    n_val = int(round(len(train) * fraction))
    if n_val == 0:
        return train, None
    if n_val >= len(train):
        raise ValueError(f"val_fraction {fraction} leaves no training images out of {len(train)}")
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return train.take(perm[n_val:]), train.take(perm[:n_val])


@lru_cache(maxsize=4)
def _load(name: str, root: str, download: bool) -> tuple[Split, Split]:
    if name in ("fashion-mnist-sample", "mnist-sample"):
        return _load_sample(name)
    if name == "digits":
        return _load_digits()
    if collections.is_collection_id(name):
        return _load_collection(name)
    return _load_torchvision(name, Path(root), download)


def _load_collection(name: str) -> tuple[Split, Split]:
    try:
        info, arrays = collections.load(name)
    except collections.CollectionError as err:
        raise DatasetUnavailable(str(err)) from None
    return (Split(torch.from_numpy(arrays["x_train"]), torch.from_numpy(arrays["y_train"]), info.classes),
            Split(torch.from_numpy(arrays["x_test"]), torch.from_numpy(arrays["y_test"]), info.classes))


def _load_sample(name: str) -> tuple[Split, Split]:
    classes = FASHION_CLASSES if name.startswith("fashion") else DIGIT_CLASSES
    with np.load(SAMPLES_DIR / f"{name}.npz", allow_pickle=False) as f:
        return tuple(  # type: ignore[return-value]
            Split(torch.from_numpy(f[f"x_{part}"]).unsqueeze(1), torch.from_numpy(f[f"y_{part}"]).long(), classes)
            for part in ("train", "test")
        )


def _load_digits() -> tuple[Split, Split]:
    from sklearn.datasets import load_digits  # 0.9 s to import: `import aecore` stays light without it

    digits = load_digits()
    x = torch.from_numpy(digits.images).float().div(16.0).unsqueeze(1)  # (N, 1, 8, 8) in [0, 1]
    # 8x8 -> 20x20 centred in 28x28, the way MNIST digits sit in their frame
    x = torch.nn.functional.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = torch.nn.functional.pad(x, (4, 4, 4, 4))
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    y = torch.from_numpy(digits.target).long()
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_test = len(y) // 5
    test, train = perm[:n_test], perm[n_test:]
    return Split(x[train], y[train], DIGIT_CLASSES), Split(x[test], y[test], DIGIT_CLASSES)


def _load_torchvision(name: str, root: Path, download: bool) -> tuple[Split, Split]:
    if download and not is_available(name, root):
        download_dataset(name, root)
    classes = {"fashion-mnist": FASHION_CLASSES, "cifar-10": CIFAR_CLASSES}.get(name, DIGIT_CLASSES)
    splits = [Split(torch.from_numpy(x if x.ndim == 4 else x[:, None]), torch.from_numpy(y.astype(np.int64)), classes)
              for x, y in read_arrays(name, root, len(classes))]
    return splits[0], splits[1]


def pick_images(labels: np.ndarray, n: int, seed: int = 0, label: int | None = None) -> np.ndarray:
    """Split indices (at most n, sorted) drawn without replacement, seeded, from one class or (None) from all."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    labels = np.asarray(labels)
    pool = np.arange(len(labels)) if label is None else np.flatnonzero(labels == label)
    if len(pool) <= n:
        return pool.astype(np.int64)
    return np.sort(np.random.default_rng(seed).choice(pool, size=n, replace=False)).astype(np.int64)


def images_at(split: Split, indices: np.ndarray) -> np.ndarray:
    """The split's images at `indices` as they are shown: grey (n, H, W) or colour (n, H, W, 3) uint8."""
    idx = torch.as_tensor(np.asarray(indices, np.int64))
    x = split.x[idx]
    return x[:, 0].numpy() if x.shape[1] == 1 else x.permute(0, 2, 3, 1).contiguous().numpy()


def class_gallery(name: str, per_class: int = 8) -> tuple[np.ndarray, tuple[str, ...]]:
    """(K, per_class, H, W) grey or (K, per_class, H, W, 3) colour uint8: the first `per_class` training images of each
    of K classes, and the class names."""
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    train, _ = load_dataset(DataConfig(name=name))
    x, y = images_at(train, np.arange(len(train))), train.y.numpy()  # (N, H, W) or (N, H, W, 3)
    rows = []
    for k in range(len(train.classes)):
        picked = x[y == k][:per_class]
        if len(picked) < per_class:  # a class with too few images is padded with blank tiles
            picked = np.concatenate([picked, np.zeros((per_class - len(picked), *x.shape[1:]), np.uint8)])
        rows.append(picked)
    return np.stack(rows), train.classes


def pick_test_image(dataset: str, label: int, nth: int = 0) -> tuple[np.ndarray, str]:
    """The nth test image (wrapping around) of class `label` as grey (H, W) or colour (H, W, 3) uint8, and the
    class name."""
    _, test = load_dataset(DataConfig(name=dataset))
    if not 0 <= label < len(test.classes):
        raise ValueError(f"label must be between 0 and {len(test.classes) - 1}, got {label}")
    matches = (test.y == label).nonzero().flatten()
    if len(matches) == 0:
        raise ValueError(f"the {dataset} test split has no images of class {test.classes[label]!r}")
    return images_at(test, matches[nth % len(matches)].reshape(1).numpy())[0], test.classes[label]
