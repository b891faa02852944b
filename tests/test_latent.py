"""Latent tools: codes of a split, PCA and t-SNE projections (UMAP, CSV and subsets: test_latent_maps.py), interpolation, neighbours, principal directions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codes import CLASSES, blob_codes
from aecore.config import DataConfig, TrainConfig
from aecore.data import load_dataset, to_float
from aecore.latent import (
    along_directions, decode_codes, encode_split, interpolate, nearest, principal_directions, project, variety_shares,
)
from aecore.models import build_model
from aecore.config import default_config
from aecore.infer import reconstruct
from aecore.train import fit
import csv
import io
from aecore.latent import Codes, map_csv, subset


@pytest.fixture(scope="module")
def data():
    return load_dataset(DataConfig(limit_train=512, limit_test=200))


@pytest.fixture(scope="module")
def model(data):
    torch.manual_seed(0)
    m = build_model(default_config("mlp_ae"), data[0].shape)
    fit(m, data[0], None, TrainConfig(epochs=2, batch_size=64, patience=0))
    return m


@pytest.fixture(scope="module")
def codes(model, data):
    return encode_split(model, data[0], n=300, seed=0)


def blobs(n: int = 300, d: int = 8, seed: int = 0) -> np.ndarray:
    """Three well-separated Gaussian clusters in d dimensions, float32."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (3, d))
    return (centres[np.arange(n) % 3] + rng.normal(0, 0.5, (n, d))).astype(np.float32)


def test_encode_split_takes_a_sorted_seeded_subset(model, data):
    train = data[0]
    model.train()
    c = encode_split(model, train, n=100, seed=3, batch_size=32)
    assert model.training  # mode restored
    assert c.z.shape == (100, model.latent_dim) and c.z.dtype == np.float32
    assert np.all(np.diff(c.indices) > 0) and c.indices.max() < len(train)
    assert np.array_equal(c.labels, train.y.numpy()[c.indices])
    with torch.inference_mode():
        expected = model.eval().encode(to_float(train.x[torch.from_numpy(c.indices)])).numpy()
    np.testing.assert_allclose(c.z, expected, atol=1e-5)
    again = encode_split(model, train, n=100, seed=3)
    assert np.array_equal(c.indices, again.indices) and np.allclose(c.z, again.z, atol=1e-6)
    assert not np.array_equal(c.indices, encode_split(model, train, n=100, seed=4).indices)


def test_encode_split_takes_everything_when_n_is_large(model, data):
    c = encode_split(model, data[1], n=10_000)
    assert np.array_equal(c.indices, np.arange(len(data[1])))
    with pytest.raises(ValueError):
        encode_split(model, data[1], n=0)


@pytest.mark.parametrize("dims", [2, 3])
def test_pca_projection(codes, dims):
    p = project(codes.z, "pca", dims=dims)
    assert p.method == "pca" and p.points.shape == (300, dims) and p.points.dtype == np.float32
    assert np.array_equal(p.kept, np.arange(300))
    ev = p.explained_variance
    assert ev.shape == (dims,) and np.all(np.diff(ev) <= 0) and 0 < ev.sum() <= 1 + 1e-6
    assert np.array_equal(p.points, project(codes.z, "pca", dims=dims).points)


def test_tsne_is_deterministic_with_a_seed_and_reports_progress():
    z = blobs()
    seen: list[tuple[float, str]] = []
    p = project(z, "tsne", seed=1, on_progress=lambda f, m: seen.append((f, m)))
    assert p.method == "tsne" and p.points.shape == (300, 2) and p.points.dtype == np.float32
    assert p.explained_variance is None and np.array_equal(p.kept, np.arange(300))
    assert np.array_equal(p.points, project(z, "tsne", seed=1).points)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and all(m for _, m in seen)
    # the clusters stay apart: each point's nearest neighbour in the map is in its own cluster
    d = np.square(p.points[:, None] - p.points[None]).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert np.mean(d.argmin(1) % 3 == np.arange(300) % 3) > 0.95


def test_tsne_subsamples_to_max_points_and_reduces_wide_codes_first():
    z = blobs(n=400, d=64)
    seen: list[str] = []
    p = project(z, "tsne", dims=3, max_points=120, seed=2, on_progress=lambda f, m: seen.append(m))
    assert p.points.shape == (120, 3) and p.kept.shape == (120,)
    assert np.all(np.diff(p.kept) > 0) and p.kept.max() < 400
    assert np.array_equal(p.kept, project(z, "tsne", dims=3, max_points=120, seed=2).kept)
    assert any("PCA" in m for m in seen)


def test_small_inputs_lower_the_perplexity():
    assert project(blobs(n=12), "tsne").points.shape == (12, 2)


def test_latent_of_the_plot_size_is_returned_unchanged():
    z = blobs(n=50, d=2)
    for method in ("pca", "tsne"):
        p = project(z, method)
        assert p.method == "identity" and np.array_equal(p.points, z) and p.explained_variance is None
        assert np.array_equal(p.kept, np.arange(50))


@pytest.mark.parametrize(("z", "kw"), [
    (blobs(d=8), {"method": "isomap"}),
    (blobs(d=8), {"dims": 4}),
    (blobs(d=1), {"dims": 2}),
    (np.full((5, 8), np.nan, np.float32), {}),
    (np.zeros((0, 8), np.float32), {}),
])
def test_project_refuses_bad_input(z, kw):
    with pytest.raises(ValueError):
        project(z, **kw)


def test_interpolation_ends_at_the_reconstructions(model, data):
    x = data[1].x[:2]
    z = encode_split(model, data[1].take(slice(0, 2)), n=2).z
    images = interpolate(model, z[0], z[1], steps=8)
    assert images.shape == (8, 1, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    ends = reconstruct(model, x).numpy()
    np.testing.assert_allclose(images[0], ends[0], atol=1e-5)
    np.testing.assert_allclose(images[-1], ends[1], atol=1e-5)
    middle = images[4]
    assert np.abs(middle - ends[0]).mean() > 1e-3 and np.abs(middle - ends[1]).mean() > 1e-3
    with pytest.raises(ValueError):
        interpolate(model, z[0], z[1], steps=1)


def test_nearest_excludes_itself_and_is_sorted(codes):
    z = codes.z
    for index in (0, 17, 299):
        got = nearest(z, index, k=8)
        assert len(got) == 8 and index not in got
        dist = np.linalg.norm(z[got] - z[index], axis=1)
        assert np.all(np.diff(dist) >= -1e-6)
        others = np.delete(np.linalg.norm(z - z[index], axis=1), index)
        assert dist[-1] <= np.sort(others)[7] + 1e-6
    assert len(nearest(z[:5], 2, k=10)) == 4
    with pytest.raises(IndexError):
        nearest(z, 300)


def test_principal_directions_match_pca(codes):
    from sklearn.decomposition import PCA

    mean, dirs, stds = principal_directions(codes.z, k=4)
    assert mean.shape == (codes.z.shape[1],) and dirs.shape == (4, codes.z.shape[1]) and stds.shape == (4,)
    np.testing.assert_allclose(dirs @ dirs.T, np.eye(4), atol=1e-4)
    assert np.all(np.diff(stds) <= 0)
    pca = PCA(4).fit(codes.z)
    np.testing.assert_allclose(stds, np.sqrt(pca.explained_variance_), rtol=1e-3)
    np.testing.assert_allclose(np.abs(dirs @ pca.components_.T), np.eye(4), atol=1e-3)
    np.testing.assert_allclose(along_directions(mean, dirs, stds, np.zeros(4)), mean)
    step = along_directions(mean, dirs, stds, np.array([1.0, 0, 0, 0]))
    np.testing.assert_allclose(np.linalg.norm(step - mean), stds[0], rtol=1e-4)
    assert principal_directions(codes.z[:, :2], k=4)[1].shape == (2, 2)


def test_variety_shares_are_pcas_explained_variance_ratios(codes):
    from sklearn.decomposition import PCA

    shares = variety_shares(codes.z, k=4)
    np.testing.assert_allclose(shares, PCA(4).fit(codes.z).explained_variance_ratio_, rtol=1e-3)
    assert np.all(np.diff(shares) <= 0) and 0 < shares.sum() <= 1


def test_decode_codes_takes_one_code_or_many(model, codes):
    model.train()
    assert decode_codes(model, codes.z[0]).shape == (1, 1, 28, 28)
    many = decode_codes(model, codes.z[:7], batch_size=3)
    assert many.shape == (7, 1, 28, 28) and model.training
    np.testing.assert_allclose(many, decode_codes(model, codes.z[:7]), atol=1e-6)
    with pytest.raises(ValueError, match="latent has 64"):
        decode_codes(model, codes.z[:, :3])


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
