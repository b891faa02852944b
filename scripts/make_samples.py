"""Write the bundled offline samples `aecore/samples/*.npz` from a torchvision dataset root.

    python scripts/make_samples.py --root ../shared/datasets

Takes a class-balanced, seeded sample of real FashionMNIST (10,000 train + 2,000 test) and
MNIST (7,000 train + 1,200 test) images, stored as compressed uint8 arrays (no pickle).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from aecore.torchvision_shim import import_torchvision

OUT = Path(__file__).resolve().parent.parent / "aecore" / "samples"
SIZES = {"fashion-mnist-sample": ("FashionMNIST", 10_000, 2_000), "mnist-sample": ("MNIST", 7_000, 1_200)}


def balanced(targets: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of n images, n/10 per class, in a seeded shuffled order."""
    g = torch.Generator().manual_seed(seed)
    per = n // 10
    idx = [torch.nonzero(targets == c).flatten() for c in range(10)]
    picked = torch.cat([i[torch.randperm(len(i), generator=g)[:per]] for i in idx])
    return picked[torch.randperm(len(picked), generator=g)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/datasets", help="torchvision root holding FashionMNIST/ and MNIST/")
    args = parser.parse_args()
    datasets = import_torchvision().datasets
    OUT.mkdir(exist_ok=True)
    for name, (cls, n_train, n_test) in SIZES.items():
        arrays = {}
        for part, train, n in (("train", True, n_train), ("test", False, n_test)):
            ds = getattr(datasets, cls)(args.root, train=train, download=False)
            keep = balanced(ds.targets, n, seed=0)
            arrays[f"x_{part}"] = ds.data[keep].numpy().astype(np.uint8)
            arrays[f"y_{part}"] = ds.targets[keep].numpy().astype(np.uint8)
        path = OUT / f"{name}.npz"
        np.savez_compressed(path, **arrays)
        print(f"{path}: {path.stat().st_size / 1e6:.2f} MB", {k: v.shape for k, v in arrays.items()})


if __name__ == "__main__":
    main()
