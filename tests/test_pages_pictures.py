"""A run trained on a person's own pictures, through the pages under AppTest: the Your pictures page lists the
collection by its typed name, a deleted collection leaves the run listed and every analysis page says why it cannot
show it, an export names the collection it needs and an import elsewhere says so, and a fresh process (a restarted
server) still loads the run and its pictures."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from apptest import open_page, texts

from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.demo_pictures import write_demo_pictures
from aecore.own_pictures import CollectionOptions, add_collection
from aecore.store import collections, runs
from aecore.train import train_run
from ui.runs import import_zip

ROOT = Path(__file__).resolve().parents[1]
NAME = "**Zoé** [x](http://a.b) <b>photos</b>"
ANALYSIS = ("pages/compare.py", "pages/latent.py", "pages/generate.py", "pages/denoise.py", "pages/anomalies.py")


@pytest.fixture
def colour_run(tmp_path, monkeypatch) -> runs.RunInfo:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_DATASETS_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("AECORE_RUNS_DIR", str(tmp_path / "runs"))
    info = add_collection(NAME, write_demo_pictures(tmp_path / "photos", per_class=10), CollectionOptions(size=28))
    cfg = RunConfig(DataConfig(name=info.id), ModelConfig("conv_ae", 16, (16, 32)), TrainConfig(epochs=2, patience=0),
                    name="On my photos")
    result = train_run(cfg, device="cpu")
    # a stand-in for a trained model: a run this short may be no_better, which the analysis pages leave out
    result = dataclasses.replace(result, history=dataclasses.replace(result.history, status="done"))
    return runs.save_run(result, preview_images=result.preview_images)


def test_the_collection_is_listed_by_its_name_as_typed(colour_run):
    at = open_page("pages/pictures.py")
    assert f"#### ` {NAME} `" in [m.value for m in at.markdown]  # a code span: no bold, link or HTML
    assert "in colour" in texts(at.caption)


def test_a_deleted_collection_leaves_the_run_listed_and_every_page_says_why(colour_run):
    collections.delete(colour_run.dataset)
    assert [r.id for r in runs.list_runs()] == [colour_run.id]
    at = open_page("pages/runs.py")
    assert "A deleted picture collection" in texts(at.caption)
    for page in ANALYSIS:
        at = open_page(page)
        assert "was deleted from this server" in texts(at.error), page


def test_an_export_names_the_collection_and_an_import_without_it_says_so(colour_run, tmp_path, monkeypatch):
    data = runs.export_run(colour_run.id)
    comment = zipfile.ZipFile(io.BytesIO(data)).comment.decode()
    assert colour_run.dataset in comment and NAME in comment and "8 classes" in comment
    monkeypatch.setenv("AECORE_DATASETS_DIR", str(tmp_path / "elsewhere"))
    kind, message, run_id = import_zip(data)
    assert kind == "warning" and run_id and colour_run.dataset in message


def test_a_fresh_process_loads_the_run_and_shows_its_pictures_in_colour(colour_run):
    code = ("import aecore.data, aecore.infer, aecore.store.runs as r; run = r.load_run(%r); "
            "_, test = aecore.data.load_dataset(run.config.data); "
            "shown = aecore.infer.reconstruct_images(r.load_model(run.id), test, [0, 1]); "
            "print(shown.shape, (shown.max(-1).astype(int) - shown.min(-1)).max())") % colour_run.id
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    shape, spread = out.stdout.strip().rsplit(" ", 1)
    assert shape == "(2, 28, 28, 3)" and int(spread) > 10


def test_class_names_are_text_on_the_anomalies_page(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_DATASETS_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("AECORE_RUNS_DIR", str(tmp_path / "runs"))
    photos = write_demo_pictures(tmp_path / "photos", per_class=10)
    (photos / "cat").rename(photos / "**bold** cat")
    info = add_collection("Photos", photos, CollectionOptions(size=28))
    cfg = RunConfig(DataConfig(name=info.id), ModelConfig("mlp_ae", 8, (32,)), TrainConfig(epochs=1, patience=0))
    result = train_run(cfg, device="cpu")
    runs.save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")))
    at = open_page("pages/anomalies.py", state={"anomalies_dataset": info.id, "anomalies_class": 0})
    assert "Train on “` **bold** cat `” only" in [b.label for b in at.button]
