"""Speed and quality of aecore's t-SNE settings against scikit-learn's default `TSNE()` on 5,000 codes.

Trains the classic FashionMNIST autoencoder briefly (784-256-64, two epochs), encodes 5,000 images,
then maps the codes to 2-D with `aecore.latent.project(z, "tsne")` and with
`sklearn.manifold.TSNE(n_components=2, random_state=0)`. Prints the seconds of each, the speed ratio
(target: 1.8x or more) and `trustworthiness(z, points, n_neighbors=10)` of each (target: aecore's no more
than 0.01 below the default's); exits non-zero when the quality target is missed. Timings on a shared
machine are noisy: `--repeats` runs both in turn and keeps each one's best time.

    python benchmarks/bench_tsne.py [--root ../shared/datasets] [--dataset fashion-mnist] [--repeats 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.manifold import TSNE, trustworthiness

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from aecore.config import DataConfig, TrainConfig  # noqa: E402
from aecore.data import is_available, load_dataset  # noqa: E402
from aecore.latent import PCA_DIMS, TSNE_SETTINGS, encode_split, project  # noqa: E402
from aecore.models import build_model, default_config  # noqa: E402
from aecore.train import fit  # noqa: E402

SPEED_TARGET = 1.8
QUALITY_TOLERANCE = 0.01


def codes(dataset: str, root: str, n: int, seed: int) -> tuple[np.ndarray, str]:
    """n codes of a briefly trained mlp_ae, from the test split when it is big enough, and where they came from."""
    train, test = load_dataset(DataConfig(name=dataset, limit_train=20_000), root=root)
    torch.manual_seed(seed)
    model = build_model(default_config("mlp_ae"), train.shape)
    fit(model, train, None, TrainConfig(epochs=2, patience=0, seed=seed))
    split, part = (test, "test") if len(test) >= n else (train, "train")
    return encode_split(model, split, n=n, seed=seed).z, f"{dataset} {part} split"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/datasets", help="torchvision root holding FashionMNIST/raw")
    parser.add_argument("--dataset", default="",
                        help="default: fashion-mnist when under --root, else the bundled sample")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each method in turn; the best time counts")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    dataset = args.dataset or ("fashion-mnist" if is_available("fashion-mnist", args.root) else "fashion-mnist-sample")
    z, where = codes(dataset, args.root, args.n, args.seed)
    print(f"{len(z):,} codes of {z.shape[1]} dims (mlp_ae, 2 epochs) from the {where}; torch threads {args.threads}")
    print(f"aecore settings: PCA to {PCA_DIMS} dims first, TSNE({TSNE_SETTINGS})")

    t_ours, t_ref = np.inf, np.inf
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = project(z, "tsne", seed=args.seed, max_points=len(z)).points
        t_ours = min(t_ours, time.perf_counter() - start)
        start = time.perf_counter()
        ref = TSNE(n_components=2, random_state=args.seed).fit_transform(z)
        t_ref = min(t_ref, time.perf_counter() - start)

    tw_ours = trustworthiness(z, ours, n_neighbors=10)
    tw_ref = trustworthiness(z, ref, n_neighbors=10)
    ratio = t_ref / t_ours
    print(f"sklearn TSNE() defaults: {t_ref:7.2f} s   trustworthiness(k=10) {tw_ref:.4f}")
    print(f"aecore project('tsne'):  {t_ours:7.2f} s   trustworthiness(k=10) {tw_ours:.4f}")
    print(f"speed ratio: {ratio:.2f}x (target >= {SPEED_TARGET}x)   "
          f"trustworthiness change: {tw_ours - tw_ref:+.4f} (target >= -{QUALITY_TOLERANCE})")
    if ratio < SPEED_TARGET:
        print("speed target missed (timings on a busy machine are noisy; try --repeats 3)", file=sys.stderr)
    if tw_ours < tw_ref - QUALITY_TOLERANCE:
        print("FAIL: trustworthiness fell by more than the tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
