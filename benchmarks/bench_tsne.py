"""Speed and quality of the latent maps on 5,000 codes: PCA, t-SNE (openTSNE and scikit-learn) and UMAP.

Trains the classic FashionMNIST autoencoder briefly (784-256-64, two epochs), encodes 5,000 test images,
then maps the codes to 2-D. Both t-SNE implementations get the same input (standardised, PCA to 50
dimensions) and the same schedule (250 early-exaggeration iterations, then 250 more, PCA initialisation,
learning rate n/12), so the table compares implementations, not settings: openTSNE is the app's
(`aecore.latent.project(z, "tsne")`), scikit-learn's `TSNE` the alternative, and its default `TSNE()` on the
raw codes a reference row. Prints seconds, speed against scikit-learn's t-SNE and trustworthiness(k=10) of
each. The app keeps whichever is faster at equal trustworthiness (no more than 0.01 lower); the script
exits non-zero when that is no longer openTSNE.
Timings on a shared machine are noisy: `--repeats` runs each in turn and keeps its best time.

    python benchmarks/bench_tsne.py [--root ../shared/datasets] [--dataset fashion-mnist] [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from aecore.config import DataConfig, TrainConfig  # noqa: E402
from aecore.data import is_available, load_dataset  # noqa: E402
from aecore.latent import PCA_DIMS, encode_split, project, standardise  # noqa: E402
from aecore.config import default_config  # noqa: E402
from aecore.models import build_model  # noqa: E402
from aecore.train import fit  # noqa: E402

QUALITY_TOLERANCE = 0.01
EXAGGERATION_ITERS, LATER_ITERS = 250, 250


def codes(dataset: str, root: str, n: int, seed: int) -> tuple[np.ndarray, str]:
    """n codes of a briefly trained mlp_ae, from the test split when it is big enough, and where they came from."""
    train, test = load_dataset(DataConfig(name=dataset, limit_train=20_000), root=root)
    torch.manual_seed(seed)
    model = build_model(default_config("mlp_ae"), train.shape)
    fit(model, train, None, TrainConfig(epochs=2, patience=0, seed=seed))
    split, part = (test, "test") if len(test) >= n else (train, "train")
    return encode_split(model, split, n=n, seed=seed).z, f"{dataset} {part} split"


def reduced(z: np.ndarray, seed: int) -> np.ndarray:
    """The codes as both t-SNE implementations see them: standardised, then PCA to PCA_DIMS dimensions."""
    x = standardise(z)[0]
    return PCA(n_components=min(PCA_DIMS, x.shape[1]), random_state=seed).fit_transform(x) if x.shape[1] > PCA_DIMS else x


def sklearn_tsne(z: np.ndarray, seed: int, threads: int) -> np.ndarray:
    """scikit-learn's Barnes-Hut t-SNE with the app's schedule and input (angle 0.7: its speed knob)."""
    return TSNE(n_components=2, perplexity=30, init="pca", learning_rate="auto", angle=0.7,
                max_iter=EXAGGERATION_ITERS + LATER_ITERS, random_state=seed, n_jobs=threads,
                ).fit_transform(reduced(z, seed).astype(np.float32))


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
    print(f"{len(z):,} codes of {z.shape[1]} dims (mlp_ae, 2 epochs) from the {where}; {args.threads} threads; "
          f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    s = args.seed
    methods: dict[str, Callable[[], np.ndarray]] = {
        "PCA (aecore)": lambda: project(z, "pca", seed=s).points,
        "t-SNE scikit-learn": lambda: sklearn_tsne(z, s, args.threads),
        "t-SNE openTSNE (aecore, the app's)": lambda: project(z, "tsne", seed=s, max_points=len(z)).points,
        "UMAP (aecore)": lambda: project(z, "umap", seed=s).points,
        "t-SNE sklearn TSNE() defaults": lambda: TSNE(n_components=2, random_state=s).fit_transform(z),
    }
    # numba compiles UMAP (and, from 4,096 codes on, pynndescent) on first use, once per process: timed apart
    start = time.perf_counter()
    project(z, "umap", seed=s)
    first_umap = time.perf_counter() - start
    seconds = {name: np.inf for name in methods}
    points: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, run in methods.items():
            start = time.perf_counter()
            points[name] = run()
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    trust = {name: trustworthiness(z, p, n_neighbors=10) for name, p in points.items()}
    ref = seconds["t-SNE scikit-learn"]
    print(f"\n| method | seconds | speed vs scikit-learn t-SNE | trustworthiness (k=10) |\n|---|---:|---:|---:|")
    for name in methods:
        print(f"| {name} | {seconds[name]:.2f} | {ref / seconds[name]:.2f}x | {trust[name]:.5f} |")
    print(f"| UMAP, a fresh process's first (numba compiling) | {first_umap:.2f} | {ref / first_umap:.2f}x | |")
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    ours, theirs = "t-SNE openTSNE (aecore, the app's)", "t-SNE scikit-learn"
    good = {k for k in (ours, theirs) if trust[k] >= max(trust[ours], trust[theirs]) - QUALITY_TOLERANCE}
    best = min(good, key=seconds.get)
    print(f"faster at equal trustworthiness (no more than {QUALITY_TOLERANCE} lower): {best}")
    if best != ours:
        print("FAIL: scikit-learn's t-SNE is now the better choice for aecore.maps", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
