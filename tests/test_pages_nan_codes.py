"""A run whose encoder holds one NaN weight (an uploaded zip can carry one): every analysis page says so in words.

The Latent page says the codes contain NaN; the others must say the same instead of raising (Generate's
sliders, its class walk and, for a 2-number code, its manifold grid all start from the codes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import safetensors.torch
from apptest import open_page, settle

from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.train import train_run

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("pages/latent.py", "pages/generate.py", "pages/compare.py", "pages/denoise.py", "pages/anomalies.py",
         "pages/your_image.py")


@pytest.fixture(scope="module", params=[(8, "nan"), (2, "nan"), (8, "huge"), (2, "huge")],
                ids=["code-8-nan", "code-2-nan", "code-8-overflow", "code-2-overflow"])
def nan_store(request, tmp_path_factory) -> Path:
    """One NaN weight, or finite weights so large that the codes overflow to infinity and NaN."""
    latent_dim, kind = request.param
    root = tmp_path_factory.mktemp("nan") / "runs"
    cfg = RunConfig(DataConfig(limit_train=256, limit_test=100), ModelConfig(latent_dim=latent_dim, hidden=(16,)),
                    TrainConfig(epochs=1, max_steps=2), name="one NaN weight")
    result = train_run(cfg, device="cpu")
    result = dataclasses.replace(result, history=dataclasses.replace(result.history, status="done"))
    info = runs.save_run(result, root=root)
    weights = root / info.id / "weights.safetensors"
    state = safetensors.torch.load_file(weights)
    first = next(k for k in state if k.startswith("encoder") and k.endswith("weight"))
    if kind == "nan":
        state[first][0, 0] = float("nan")
    else:
        state[first][:] = 3e38
    safetensors.torch.save_file(state, weights)
    return root


@pytest.mark.parametrize("page", PAGES)
def test_every_analysis_page_says_the_codes_contain_nan(nan_store, page, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_RUNS_DIR", str(nan_store))
    at = settle(open_page(page))
    if page == "pages/your_image.py":  # models are loaded once there is a picture
        at.radio(key="your_image_source").set_value("test").run()
    assert not at.exception, at.exception
    said = " ".join(str(e.value) for e in [*at.error, *at.warning, *at.info])
    assert "NaN" in said, said
