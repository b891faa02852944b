"""UMAP maps and their settings, a selection mapped on its own (`subset`), and the map as CSV (`map_csv`)."""

from __future__ import annotations


import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from codes import blobs
from aecore.latent import DegenerateCodes, MapSettings, project

def own_cluster_share(points: np.ndarray, labels: np.ndarray) -> float:
    """How often a point's nearest neighbour on the map is of its own cluster."""
    d = np.square(points[:, None] - points[None]).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float(np.mean(labels[d.argmin(1)] == labels))


@pytest.mark.parametrize("dims", [2, 3])
def test_umap_is_seeded_keeps_clusters_apart_and_reports_progress(dims):
    z = blobs()
    seen: list[tuple[float, str]] = []
    p = project(z, "umap", dims=dims, seed=3, on_progress=lambda f, m: seen.append((f, m)))
    assert p.method == "umap" and p.points.shape == (300, dims) and p.points.dtype == np.float32
    assert np.array_equal(p.kept, np.arange(300)) and p.explained_variance is None
    assert np.array_equal(p.points, project(z, "umap", dims=dims, seed=3).points)
    assert not np.allclose(p.points, project(z, "umap", dims=dims, seed=4).points)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and any("UMAP of 300 codes" in m for _, m in seen)
    assert own_cluster_share(p.points, np.arange(300) % 3) > 0.95


def test_umap_reports_its_epochs_as_it_goes_and_a_stop_there_ends_it():
    z = blobs(n=1500)
    seen: list[tuple[float, str]] = []
    project(z, "umap", on_progress=lambda f, m: seen.append((f, m)))
    steps = [(f, m) for f, m in seen if " step " in m]
    assert len(steps) >= 2 and steps[-1][1].endswith(" step 500 of 500")  # the bar's last "n/total", and more before
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[0][0] < steps[-1][0]

    class Stop(Exception):
        pass

    def stop_at_a_step(fraction: float, message: str) -> None:
        if " step " in message:
            raise Stop()

    with pytest.raises(Stop):
        project(z, "umap", on_progress=stop_at_a_step)


def test_umap_settings_change_the_map_and_small_inputs_lower_the_neighbours():
    z = blobs(n=200)
    tight = project(z, "umap", settings=MapSettings(n_neighbors=5, min_dist=0.0)).points
    loose = project(z, "umap", settings=MapSettings(n_neighbors=50, min_dist=1.0)).points
    assert not np.allclose(tight, loose)
    # min_dist packs points: each cluster's spread relative to the whole map is smaller at 0 than at 1
    def spread(points):
        within = np.mean([points[np.arange(200) % 3 == k].std(axis=0).mean() for k in range(3)])
        return within / points.std(axis=0).mean()
    assert spread(tight) < spread(loose)
    assert project(blobs(n=12), "umap", settings=MapSettings(n_neighbors=50)).points.shape == (12, 2)


def test_umap_subsamples_to_max_points():
    p = project(blobs(n=400), "umap", max_points=150, seed=1)
    assert p.points.shape == (150, 2) and np.all(np.diff(p.kept) > 0) and p.kept.max() < 400


@pytest.mark.parametrize("bad", [dict(perplexity=0), dict(n_neighbors=1), dict(min_dist=-0.1), dict(min_dist=1.5)])
def test_map_settings_refuse_values_the_methods_cannot_use(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        MapSettings(**bad)


def test_umap_refuses_identical_codes_with_the_plain_message():
    with pytest.raises(DegenerateCodes, match="all 60 codes are the same"):
        project(np.full((60, 8), 2.5, np.float32), "umap")








@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_a_map_says_how_long_it_has_left_at_the_pace_of_its_steps(method):
    z = blobs(n=2000)
    seen: list[tuple[float, str]] = []
    project(z, method, on_progress=lambda f, m: seen.append((time.perf_counter(), m)))
    end = seen[-1][0]
    steps = [(t, m) for t, m in seen if " step " in m]
    timed = [(t, m) for t, m in steps if m.endswith(" left")]
    assert timed, [m for _, m in seen]  # once a second of steps has set the pace
    assert " left" not in steps[-1][1] and " left" not in steps[0][1]  # none before a pace, none at the last step
    assert all(re.fullmatch(rf"(UMAP|t-SNE) of 2,000 codes: step \d+ of \d+, about \d+ (s|min) left", m) for _, m in timed)
    # the estimate halfway through is the time the rest took, within a factor of 2 (the pace is steady)
    t, m = min(timed, key=lambda tm: abs(tm[0] - (timed[0][0] + end) / 2))
    said = int(re.search(r"about (\d+) s left", m).group(1))
    assert 0.5 * (end - t) - 1 <= said <= 2 * (end - t) + 1, (m, end - t)


FIRST_UMAP = """
import json, numpy as np
from aecore.latent import project
project(np.random.default_rng(0).normal(size=(200, 8)).astype(np.float32), "umap")
from umap.layouts import _nb_optimize_layout_euclidean_single_epoch as layout_step
print(json.dumps({"hits": sum(layout_step.stats.cache_hits.values()),
                  "misses": sum(layout_step.stats.cache_misses.values())}))
"""


def test_a_fresh_process_loads_umaps_compiled_code_from_the_cache_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(AECORE_CACHE_DIR=str(tmp_path), PYTHONPATH=str(Path(__file__).resolve().parents[1]))

    def first_umap() -> dict:
        done = subprocess.run([sys.executable, "-c", FIRST_UMAP], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert first_umap() == {"hits": 0, "misses": 1}  # compiled, and kept under the app's cache folder
    assert any((tmp_path / "numba").rglob("*layouts*.nbi"))
    assert first_umap() == {"hits": 1, "misses": 0}  # a new process (a restarted server) loads it, not compiling
