"""UMAP maps and their settings, a selection mapped on its own (`subset`), and the map as CSV (`map_csv`)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from aecore.latent import Codes, DegenerateCodes, MapSettings, map_csv, project, subset

CLASSES = ("Ankle boot", "Bag", "Coat, long")  # a comma, so the CSV must quote it


def blobs(n: int = 300, d: int = 8, seed: int = 0) -> np.ndarray:
    """Three well-separated Gaussian clusters in d dimensions, float32; point i is in cluster i % 3."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (3, d))
    return (centres[np.arange(n) % 3] + rng.normal(0, 0.5, (n, d))).astype(np.float32)


def blob_codes(n: int = 300, d: int = 8) -> Codes:
    return Codes(blobs(n, d), (np.arange(n) % 3).astype(np.int64), np.arange(n, dtype=np.int64) * 3 + 1)


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


def test_subset_keeps_the_chosen_images_and_is_mapped_afresh():
    codes = blob_codes()
    chosen = [int(i) for i in codes.indices[codes.labels == 1][:40]] + [10**6]  # one image the map does not hold
    part = subset(codes, reversed(chosen))
    assert np.array_equal(part.indices, np.sort(chosen[:-1])) and np.all(part.labels == 1)
    where = np.searchsorted(codes.indices, part.indices)
    assert np.array_equal(part.z, codes.z[where])
    alone = project(part.z, "pca")
    whole = project(codes.z, "pca")
    assert alone.points.shape == (40, 2)
    # its own directions: the selection now spreads over the whole map instead of a corner of it
    assert alone.points.std(axis=0).sum() > 0 and not np.allclose(alone.points, whole.points[where], atol=1e-3)
    assert np.allclose(alone.points.mean(axis=0), 0, atol=1e-4)
    with pytest.raises(ValueError, match="none of the chosen images"):
        subset(codes, [0, 2])


def test_map_csv_has_index_class_map_and_every_code_number():
    codes = blob_codes(n=60, d=5)
    p = project(codes.z, "pca", dims=3)
    rows = list(csv.reader(io.StringIO(map_csv(codes, p, CLASSES))))
    assert rows[0] == ["index", "class", "map_1", "map_2", "map_3", "code_1", "code_2", "code_3", "code_4", "code_5"]
    body = rows[1:]
    assert len(body) == 60
    assert [int(r[0]) for r in body] == list(codes.indices)
    assert [r[1] for r in body] == [CLASSES[k] for k in codes.labels]
    numbers = np.array([[float(v) for v in r[2:]] for r in body], np.float32)
    assert np.array_equal(numbers[:, :3], p.points) and np.array_equal(numbers[:, 3:], codes.z)  # exact round trip


def test_map_csv_of_a_subsampled_map_has_only_its_points():
    codes = blob_codes(n=200, d=4)
    p = project(codes.z, "tsne", max_points=50, seed=2)
    rows = list(csv.reader(io.StringIO(map_csv(codes, p, CLASSES))))
    assert rows[0][:4] == ["index", "class", "map_1", "map_2"] and len(rows[0]) == 4 + 4
    assert [int(r[0]) for r in rows[1:]] == list(codes.indices[p.kept])
    with pytest.raises(ValueError, match="not made from these codes"):
        map_csv(Codes(codes.z[:10], codes.labels[:10], codes.indices[:10]), p, CLASSES)
