"""Neighbour embeddings of codes: t-SNE (openTSNE) and UMAP (umap-learn), the maps that put look-alikes together.

`neighbour_map(x, method, ...)` lays standardised codes out in 2-D or 3-D and returns the points with the
codes it kept; `aecore.latent.project` calls it after its own checks. Both methods are seeded, report their
progress, and keep a seeded random subset of at most `max_points` codes, since both slow down beyond a few
thousand and a map of more points shows no more.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .settings import keep_numba_cache

Progress = Callable[[float, str], None]
PCA_DIMS = 50  # t-SNE inputs are first reduced to this many dimensions, as in van der Maaten's reference code
SERIAL_BELOW = 1000  # maps of fewer points run on one thread: see _threads
# openTSNE (Poličar et al. 2024, JSS 109) with scikit-learn's schedule halved: 250 iterations of early
# exaggeration, then 250 more; PCA initialisation and learning rate n/12 (Belkina et al. 2019; Kobak &
# Berens 2019). Barnes-Hut gradients with theta 0.7 (scikit-learn's `angle`): on 5,000 codes and 2 threads
# they took 6.5 s against 14.0 s for openTSNE's FFT gradients (Linderman et al. 2019), which pay off only
# beyond about 10,000 points and do not run in 3-D, and 7.6 s for scikit-learn's, at the same trustworthiness
# (0.9977).
# benchmarks/bench_tsne.py measures it against scikit-learn's TSNE.
TSNE_ITERS = (250, 250)
TSNE_THETA = 0.7
TSNE_PROGRESS_EVERY = 25
PACE_SECONDS = 1.0  # of a map's steps before their pace gives a time left


class DegenerateCodes(ValueError):
    """The codes cannot be mapped (every image has the same code, or the map could not place them)."""


@dataclass(frozen=True)
class MapSettings:
    """What a person may change before a map is computed; each method reads its own."""

    perplexity: float = 30.0  # t-SNE: about how many neighbours each point keeps close
    n_neighbors: int = 15  # UMAP: how many neighbours define each point's surroundings
    min_dist: float = 0.1  # UMAP: how tightly points may pack together, 0..1

    def __post_init__(self):
        if not self.perplexity > 0:
            raise ValueError(f"perplexity must be positive, got {self.perplexity}")
        if not 2 <= self.n_neighbors <= 500:
            raise ValueError(f"n_neighbors must be from 2 to 500, got {self.n_neighbors}")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ValueError(f"min_dist must be from 0 to 1, got {self.min_dist}")


def neighbour_map(
    x: np.ndarray, method: str, dims: int, seed: int, settings: MapSettings, max_points: int, report: Progress
) -> tuple[np.ndarray, np.ndarray]:
    """Points (m, dims) float32 of standardised codes x (N, D) by "tsne" or "umap", and the kept rows (m,)."""
    if max_points < 1:
        raise ValueError(f"max_points must be positive, got {max_points}")
    kept = np.arange(len(x))
    if len(x) > max_points:
        kept = np.sort(np.random.default_rng(seed).choice(len(x), size=max_points, replace=False))
    x = x[kept]
    name = {"tsne": "t-SNE", "umap": "UMAP"}[method]
    if len(x) < 4:
        raise ValueError(f"{name} needs at least 4 codes, got {len(x)}")
    if len(np.unique(x, axis=0)) < 2:  # the subset drawn may be one point even where all codes are not
        raise DegenerateCodes(f"the {len(x):,} codes drawn for {name} are all the same, so there is nothing to map; "
                              "choose PCA, or show more images")
    start = time.perf_counter()
    points = (_tsne if method == "tsne" else _umap)(x, dims, seed, settings, report)
    if not np.isfinite(points).all():
        raise DegenerateCodes(f"{name} could not place these codes (its layout became NaN); choose PCA instead")
    report(1.0, f"done in {time.perf_counter() - start:.1f} s")
    return points.astype(np.float32), kept


def _tsne(x: np.ndarray, dims: int, seed: int, settings: MapSettings, report: Progress) -> np.ndarray:
    from openTSNE import TSNE  # a map library: imported by the map that needs it (1 s), not by every page
    from sklearn.decomposition import PCA  # 0.9 s to import: `import aecore` stays light without it

    if x.shape[1] > PCA_DIMS:
        report(0.0, f"PCA from {x.shape[1]} to {PCA_DIMS} dimensions")
        x = PCA(n_components=min(PCA_DIMS, len(x)), random_state=seed).fit_transform(x)
    # every point needs about 3 x perplexity neighbours; openTSNE would lower it the same way, with a warning
    perplexity = min(settings.perplexity, (len(x) - 1) / 3)
    report(0.05, f"t-SNE of {len(x):,} codes (perplexity {perplexity:.0f}): finding neighbours")
    steps = _Steps(report, f"t-SNE of {len(x):,} codes", 0.05)
    done = [0]

    def progress(iteration: int, error: float, embedding) -> bool:
        done[0] += TSNE_PROGRESS_EVERY
        steps(done[0], sum(TSNE_ITERS))
        return False  # never ends early: a stop request raises from report instead

    tsne = TSNE(n_components=dims, perplexity=perplexity, initialization="pca", learning_rate="auto",
                early_exaggeration_iter=TSNE_ITERS[0], n_iter=TSNE_ITERS[1], random_state=seed,
                negative_gradient_method="bh", theta=TSNE_THETA, n_jobs=_threads(len(x)),
                callbacks=progress, callbacks_every_iters=TSNE_PROGRESS_EVERY)
    return np.asarray(tsne.fit(np.ascontiguousarray(x, dtype=np.float64)))


def _umap(x: np.ndarray, dims: int, seed: int, settings: MapSettings, report: Progress) -> np.ndarray:
    report(0.0, "getting UMAP ready (the very first map on a computer takes some seconds more)")
    UMAP = umap_class()  # noqa: N806  (a class)

    n_neighbors = min(settings.n_neighbors, len(x) - 1)
    report(0.1, f"UMAP of {len(x):,} codes ({n_neighbors} neighbours, minimum distance {settings.min_dist:g}): "
                "finding neighbours")
    # a seeded UMAP runs on one thread, which is what makes it repeatable (umap-learn's reproducibility notes)
    # its epochs are a loop under a tqdm bar, whose documented `tqdm_kwds` take a file: the bar's "n/total" goes
    # to `report` at most twice a second, so the page's progress moves, and a stop raised there ends the map
    bar = {"disable": False, "file": _EpochsTo(report, f"UMAP of {len(x):,} codes"), "mininterval": 0.5,
           "bar_format": "{n}/{total}", "desc": ""}
    reducer = UMAP(n_components=dims, n_neighbors=n_neighbors, min_dist=settings.min_dist, random_state=seed,
                   n_jobs=1, init="spectral" if len(x) > 2 * dims + 2 else "random", tqdm_kwds=bar)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(disconnected|spectral|n_jobs).*")
        return reducer.fit_transform(x.astype(np.float32))


def umap_class() -> type:
    """umap-learn's UMAP, imported once a map asks (its import compiles numba code), with every numba function of
    umap-learn and pynndescent kept in numba's on-disk cache (`settings.keep_numba_cache`). Most of them are not
    declared `cache=True`, so every new process compiled them again: a first UMAP of 2,000 codes in a fresh
    process took 11.8 s, and 3.5 s with them cached (2 cores; the same points to the last bit either way)."""
    keep_numba_cache()
    from umap import UMAP

    _keep_compiled_umap()
    return UMAP


@functools.cache
def _keep_compiled_umap() -> None:
    from numba.core.dispatcher import Dispatcher

    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in ("umap", "pynndescent"):
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    with contextlib.suppress(Exception):  # one that cannot be cached compiles as before
                        value.enable_caching()


class _Steps:
    """A map's optimisation steps reported as "step n of total", with the time left at the pace of the steps so far
    once they have run for `PACE_SECONDS` (the first steps, which a map's set-up slows, set no pace alone)."""

    def __init__(self, report: Progress, what: str, start: float):
        self.report, self.what, self.start = report, what, start
        self.first: tuple[float, int] | None = None  # when the first step was reported, and its number

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, done)
        since, first = self.first
        text = f"{self.what}: step {min(done, total)} of {total}"
        if now - since >= PACE_SECONDS and first < done < total:
            text += f", about {_time_left((now - since) / (done - first) * (total - done))} left"
        self.report(self.start + (1.0 - self.start) * min(done / max(total, 1), 1.0), text)


def _time_left(seconds: float) -> str:
    return f"{max(1, math.ceil(seconds))} s" if seconds < 90 else f"{math.ceil(seconds / 60)} min"


class _EpochsTo:
    """A file for umap-learn's epoch bar: each "n/total" written to it is reported as the map's progress."""

    def __init__(self, report: Progress, what: str):
        self.steps = _Steps(report, what, 0.2)

    def write(self, text: str) -> None:
        if found := re.findall(r"(\d+)/(\d+)", text):
            self.steps(*(int(v) for v in found[-1]))

    def flush(self) -> None:
        pass


def _threads(n: int) -> int:
    # Each gradient step ends in a barrier between threads; on a busy machine a small map waits a
    # scheduler tick there every step (seconds for a few hundred points), for a split that saves almost nothing.
    return 1 if n < SERIAL_BELOW else max(1, torch.get_num_threads())
