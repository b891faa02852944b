"""Scores, reconstructions, codes and maps for the Compare, Latent space and Anomalies pages, cached or shared.

Everything is keyed by run id and dataset name (a saved run never changes). Reconstructions and codes are
quick, and cached with `st.cache_data`, which every session shares. Scoring a whole test split and drawing
a map are slow, so they are `compute` work in a worker process (`aecore.workers`), keyed by run, dataset
and settings: two sessions asking for the same map share one computation, at most one such computation
runs at once by default (`AECORE_MAX_COMPUTE`), and a page waits on the id through `ui.waiting`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from functools import partial

import numpy as np
import streamlit as st

import aecore.infer
import aecore.jobs
import aecore.latent
from aecore import units, workers
from aecore.latent import Codes, MapSettings
from ui.loaders import cached_model, cached_test_split
from ui.visitor import current_visitor
from ui.waiting import UNWATCHED_AFTER

MAP_CANCEL_AFTER = 1.0  # a map nobody waits for is ended with its worker this soon: its native loops never ask
computed: Counter[str] = Counter()  # how often each kind of work started from this server: shared work counts once
_computed_lock = threading.Lock()


def scores_work(run_id: str, dataset: str) -> str:
    """The id of the work scoring every test image of the dataset through the run's model: `{metric: (N,)}`."""
    return workers.submit(units.scores, run_id, dataset, key=("scores", run_id, dataset),
                          drop_after=UNWATCHED_AFTER, on_start=partial(_count, "scores"), owner=current_visitor().owner)


def errors_work(run_id: str, dataset: str, k: int) -> str:
    """The id of the work giving each test image's reconstruction error and the k worst (an `ErrorReport`)."""
    return workers.submit(units.errors, run_id, dataset, k, key=("errors", run_id, dataset, k),
                          drop_after=UNWATCHED_AFTER, on_start=partial(_count, "errors"), owner=current_visitor().owner)


def projection_work(run_id: str, dataset: str, n: int, method: str, dims: int, settings: MapSettings,
                    images: tuple[int, ...] | None = None) -> str:
    """The id of the work laying the codes of `cached_codes` out as map points (a `Projection`).

    `images` (test image numbers) maps only those of the codes, as `map_codes` gives them back.
    """
    codes = map_codes(run_id, dataset, n, images)
    # only the settings of the chosen method make a different map; a digest keys a long selection
    used = {"tsne": (settings.perplexity,), "umap": (settings.n_neighbors, settings.min_dist)}.get(method, ())
    chosen = hashlib.sha1(np.asarray(images, np.int64).tobytes()).hexdigest() if images is not None else None
    return workers.submit(units.projection, codes.z, method, dims, settings, cancel_after=MAP_CANCEL_AFTER,
                          key=("projection", run_id, dataset, n, method, dims, used, chosen),
                          drop_after=UNWATCHED_AFTER, on_start=partial(_count, "projection"),
                          owner=current_visitor().owner, group="map",  # a map moved past leaves the line
                          runner=aecore.jobs.map_runner())


def map_codes(run_id: str, dataset: str, n: int, images: tuple[int, ...] | None = None) -> Codes:
    """The codes a map of `projection_work` is made of: all of `cached_codes`, or those of `images`."""
    codes = cached_codes(run_id, dataset, n)
    return codes if images is None else aecore.latent.subset(codes, images)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_reconstructions(run_id: str, dataset: str, indices: tuple[int, ...]) -> np.ndarray:
    """The run's reconstructions of the test images at `indices`, (n, H, W) uint8."""
    return aecore.infer.reconstruct_images(cached_model(run_id), cached_test_split(dataset), np.array(indices))


@st.cache_data(max_entries=16, show_spinner="Encoding the test images…")
def cached_codes(run_id: str, dataset: str, n: int) -> Codes:
    """The codes of n seeded test images of the dataset through the run's encoder."""
    return aecore.latent.encode_split(cached_model(run_id), cached_test_split(dataset), n=n)


def _count(kind: str) -> None:
    with _computed_lock:
        computed[kind] += 1
