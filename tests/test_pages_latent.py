"""The Latent space page's maps through AppTest: UMAP and its settings, images on the map, class filter,
a selection with its grid, mix and isolation, the 3-D picker, on small real saved runs."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from apptest import open_page, settle, texts

import ui.shared_results
from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.train import train_run

ROOT = Path(__file__).resolve().parents[1]
SMALL = 300


@pytest.fixture(scope="module")
def ae(tmp_path_factory) -> runs.RunInfo:
    root = tmp_path_factory.mktemp("latent-pages") / "runs"
    cfg = RunConfig(DataConfig(limit_train=512, limit_test=200), ModelConfig("mlp_ae", 8, (64,)),
                    TrainConfig(epochs=1, patience=0), name="test ae")
    result = train_run(cfg, device="cpu")
    # a stand-in for a trained model: a run this short is no_better, which the page leaves out
    return runs.save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")),
                         root=root)


@pytest.fixture(autouse=True)
def in_repo(ae, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AECORE_RUNS_DIR", str(ae.path.parent))


def opened(state: dict) -> object:
    return settle(open_page("pages/latent.py", {"latent_run": state.pop("run"), "latent_points_wanted": SMALL,
                                                **state}))


def figure(at) -> go.Figure:
    (chart,) = [c for c in at.get("plotly_chart") if c.key == "latent_scatter"]
    return go.Figure(json.loads(chart.proto.spec, object_hook=typed_array))


def typed_array(obj: dict):
    """Plotly sends numpy arrays as {"dtype", "bdata" (base64), "shape"}; read them back as arrays."""
    if "bdata" not in obj or "dtype" not in obj:
        return obj
    values = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
    return values.reshape([int(n) for n in str(obj["shape"]).split(",")]) if "shape" in obj else values


def points_drawn(at) -> int:
    return sum(len(t.x) for t in figure(at).data)


def test_umap_has_its_two_settings_with_help_and_each_change_is_a_new_map(ae):
    at = opened({"run": ae.id, "latent_method": "umap"})
    assert not at.exception and "UMAP rearranges the 8-number codes" in texts(at.caption)
    neighbours, min_dist = at.slider(key="latent_neighbours"), at.slider(key="latent_min_dist")
    assert (neighbours.value, min_dist.value) == (15, 0.1) and neighbours.help and min_dist.help
    assert points_drawn(at) == SMALL and figure(at).layout.xaxis.title.text == "UMAP 1"
    before = ui.shared_results.computed["projection"]
    settle(at.slider(key="latent_min_dist").set_value(0.5).run())
    assert not at.exception and ui.shared_results.computed["projection"] == before + 1
    settle(at.run())  # the same settings again: the finished map is shared, not made anew
    assert ui.shared_results.computed["projection"] == before + 1


def test_images_on_the_map_are_a_few_hundred_spread_out_and_off_in_3d(ae):
    at = opened({"run": ae.id, "latent_thumbnails": True})
    images = figure(at).layout.images
    assert 20 <= len(images) <= 300 and all(i.source.startswith("data:image/png;base64,") for i in images)
    assert len({(round(i.x, 6), round(i.y, 6)) for i in images}) == len(images)
    assert points_drawn(at) == SMALL and "drawn as their images" in texts(at.caption)
    settle(at.toggle(key="latent_3d").set_value(True).run())
    assert not at.exception and at.toggle(key="latent_thumbnails").disabled and not figure(at).layout.images


def test_hiding_classes_leaves_their_points_off_the_map(ae):
    at = opened({"run": ae.id})
    (pills,) = [p for p in at.get("button_group") if p.key.startswith("latent_classes_")]
    shown = pills.value[:2]
    settle(pills.set_value(shown).run())
    assert not at.exception and [t.name for t in figure(at).data] == shown
    assert 0 < points_drawn(at) < SMALL
    (pills,) = [p for p in at.get("button_group") if p.key.startswith("latent_classes_")]
    settle(pills.set_value([]).run())
    assert "Choose at least one class" in texts(at.info)


def test_a_selection_shows_its_images_and_mix_and_isolates_to_a_map_of_its_own(ae):
    at = opened({"run": ae.id})
    ids = [int(v[0]) for t in figure(at).data for v in t.customdata][:40]
    at.session_state["latent_selected"] = {"run": ae.id, "images": sorted(ids)}
    settle(at.run())
    assert "40 selected images" in texts(at.subheader) and "latent_mix" in [c.key for c in at.get("plotly_chart")]
    before = ui.shared_results.computed["projection"]
    settle(at.button(key="latent_isolate").click().run())
    assert not at.exception and "only the 40 selected images" in texts(at.info)
    assert points_drawn(at) == 40 and ui.shared_results.computed["projection"] == before + 1
    assert "latent_selected" not in at.session_state  # the selection became the map
    settle(at.button(key="latent_unisolate").click().run())
    assert not at.exception and points_drawn(at) == SMALL


def test_the_isolated_map_is_dropped_when_the_number_of_images_changes(ae):
    at = opened({"run": ae.id, "latent_isolated": {"run": ae.id, "n": SMALL, "images": list(range(0, 2000, 7))}})
    held = points_drawn(at)
    assert "selected images, laid out again" in texts(at.info) and held < SMALL
    settle(at.number_input(key="latent_n").set_value(400).run())
    assert not at.exception and points_drawn(at) == 400


def test_a_3d_map_picks_images_from_a_list_and_walks_between_two(ae):
    at = opened({"run": ae.id, "latent_3d": True})
    picker = at.selectbox(key="latent_point_picker")
    first, second = picker.options[:2]
    settle(picker.set_value(int(first.split()[1])).run())
    assert not at.exception and f"Image {first.split()[1]}:" in texts(at.subheader)
    settle(at.selectbox(key="latent_point_picker").set_value(int(second.split()[1])).run())
    assert f"From image {first.split()[1]}" in texts(at.subheader)
