"""Codes a collapsed or silly model gives: constant, duplicated, collinear, tiny, huge, NaN.

scikit-learn's t-SNE ends the whole process with SIGSEGV on identical points, so the cases run in a
child process: a crash fails the test instead of taking pytest (or the app's server) down with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aecore.latent import DegenerateCodes, project, standardise

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, sys
import numpy as np
from aecore.latent import DegenerateCodes, project
rng = np.random.default_rng(0)
cases = {
    "zeros": np.zeros((500, 8)),
    "constant": np.full((300, 16), 3.25),
    "constant wide": np.full((200, 64), -1.0),
    "tiny constant offset": 7.0 + np.zeros((400, 8)),
    "tiny": rng.random((500, 8)) * 1e-30,
    "huge": rng.random((500, 8)) * 1e30,
    "two codes": np.repeat(rng.random((2, 8)), 250, axis=0),
    "one odd code": np.vstack([np.zeros((499, 8)), np.ones((1, 8))]),
    "collinear": np.outer(rng.random(500), rng.random(8)),
    "three on a line": np.outer(rng.integers(0, 3, 500), rng.random(8)),
    "healthy": rng.normal(size=(400, 8)),
}
out = {}
for name, z in cases.items():
    try:
        p = project(z.astype(np.float32), sys.argv[1], dims=int(sys.argv[2]))
        out[name] = {"finite": bool(np.isfinite(p.points).all()), "shape": list(p.points.shape),
                     "warning": p.warning}
    except DegenerateCodes as err:
        out[name] = {"refused": str(err)}
print(json.dumps(out))
"""
REFUSED = ("zeros", "constant", "constant wide", "tiny constant offset")


@pytest.mark.parametrize("method,dims", [("tsne", 2), ("umap", 2), ("pca", 2), ("pca", 3)])
def test_degenerate_codes_never_crash_and_get_a_message(method, dims):
    child = subprocess.run([sys.executable, "-c", CHILD, method, str(dims)], cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
    assert child.returncode == 0, f"the projection process died ({child.returncode}): {child.stderr[-2000:]}"
    out = json.loads(child.stdout.strip().splitlines()[-1])
    for name in REFUSED:
        assert "the same" in out[name]["refused"] and "lower learning rate" in out[name]["refused"], name
    for name in set(out) - set(REFUSED):
        assert out[name].get("finite") is True, (name, out[name])
    assert "straight line" in out["collinear"]["warning"]
    assert "Only 2 different codes among 500" in out["two codes"]["warning"]
    assert out["healthy"]["warning"] == "" and out["tiny"]["warning"] == "" and out["huge"]["warning"] == ""


def test_identical_codes_are_refused_even_when_shown_as_they_are():
    with pytest.raises(DegenerateCodes, match="all 50 codes are the same"):
        project(np.ones((50, 2), np.float32), "pca", dims=2)


def test_nan_codes_are_refused_for_every_method():
    z = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    z[3, 1] = np.nan
    for method in ("pca", "tsne", "umap"):
        with pytest.raises(ValueError, match="NaN"):
            project(z, method)


def test_scaling_leaves_pca_in_the_codes_own_units():
    z = np.random.default_rng(1).normal(size=(300, 6)).astype(np.float32) * 40 + 5
    from sklearn.decomposition import PCA

    expected = PCA(n_components=2, random_state=0).fit_transform(z.astype(np.float64))
    got = project(z, "pca").points
    np.testing.assert_allclose(np.abs(got), np.abs(expected), rtol=1e-3, atol=1e-3)  # signs are arbitrary


def test_one_number_codes_are_not_called_collinear():
    z = np.random.default_rng(2).normal(size=(100, 1)).astype(np.float32)
    assert standardise(z)[2] == ""
    with pytest.raises(DegenerateCodes):
        standardise(np.zeros((100, 1), np.float32))
