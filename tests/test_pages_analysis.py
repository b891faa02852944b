"""The Compare and Latent space pages through Streamlit's AppTest, on small real saved runs.

Three runs are trained once for the module (one epoch on 512 images): a fully connected AE with an
8-number code, a VAE with a 2-number code (drawn as it is) and a digits AE with a 1-number code (a
different dataset, drawn as a strip). Maps use a few hundred images so t-SNE takes seconds.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest import open_page, settle, texts

import aecore.reference
import ui.shared_results
from aecore import background
from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.train import train_run

ROOT = Path(__file__).resolve().parents[1]
SMALL = 300


@pytest.fixture(autouse=True)
def in_repo(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(aecore.reference, "REFERENCE_DIR", tmp_path / "reference")  # none unless a test writes one


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, runs.RunInfo]:
    root = tmp_path_factory.mktemp("analysis") / "runs"
    made = {}
    for key, data, model in (
        ("digits", DataConfig(name="digits", limit_train=512, limit_test=200), ModelConfig("mlp_ae", 1, (64,))),
        ("vae", DataConfig(limit_train=512, limit_test=200), ModelConfig("vae", 2, (128,), recon_loss="bce")),
        ("ae", DataConfig(limit_train=512, limit_test=200), ModelConfig("mlp_ae", 8, (64,))),
    ):
        result = train_run(RunConfig(data, model, TrainConfig(epochs=1, patience=0), name=f"test {key}"), device="cpu")
        # stand-ins for trained models: a run this short is no_better, which these pages leave out
        result = dataclasses.replace(result, history=dataclasses.replace(result.history, status="done"))
        made[key] = runs.save_run(result, root=root)
    return made


@pytest.fixture
def with_runs(saved, monkeypatch) -> dict[str, runs.RunInfo]:
    monkeypatch.setenv("AECORE_RUNS_DIR", str(next(iter(saved.values())).path.parent))
    return saved






def opened(page: str, state: dict | None = None) -> AppTest:
    """The page with its background work (maps, scores) finished."""
    return settle(open_page(page, state))


def charts(at: AppTest) -> list[str]:
    return [c.key for c in at.get("plotly_chart")]


@pytest.mark.parametrize("page", ["pages/compare.py", "pages/latent.py"])
def test_without_runs_the_pages_say_what_to_do(page):
    at = opened(page)
    assert "Train one first" in texts(at.info)
    assert [link.label for link in at.page_link] == ["Go to Train"]
    assert not charts(at)


def test_compare_shows_the_same_images_a_starred_table_and_both_charts(with_runs):
    at = opened("pages/compare.py")
    assert at.multiselect(key="compare_runs").value == [with_runs["ae"].id, with_runs["vae"].id]  # the newest two
    assert not at.get("selectbox") or "compare_dataset" not in [s.key for s in at.selectbox]  # one dataset: no note
    assert len(at.get("image")) == 3  # the originals, then each model's row
    assert [t.value for t in at.text][:3] == ["Original", "test ae", "test vae"]  # names as text beside the images
    plain_view, table = at.dataframe[0].value, at.dataframe[1].value  # plain words first, every score in Details
    assert list(plain_view.columns) == ["Run", "Model", "Looks alike", "Code size", "Parameters", "Epochs",
                                        "Training time"]
    assert sum(v.endswith("★") for v in plain_view["Looks alike"]) == 1
    assert all(v.rstrip(" ★").endswith("%") for v in plain_view["Looks alike"])
    assert list(plain_view["Code size"]) == [8, 2] and list(plain_view["Epochs"]) == [1, 1]
    assert plain_view["Parameters"].str.replace(",", "").astype(int).gt(0).all()
    assert list(table["Run"]) == ["test ae", "test vae"]
    for col in ("MSE", "MAE", "PSNR (dB)", "SSIM"):
        assert sum(str(v).endswith("★") for v in table[col]) == 1, col
    assert charts(at) == ["compare_classes", "compare_losses"]
    assert at.button_group(key="compare_curve").value == "mse"
    settle(at.button_group(key="compare_curve").set_value("loss").run())
    assert not at.exception and charts(at) == ["compare_classes", "compare_losses"]
    assert "How good is this?" not in [e.label for e in at.expander]  # no reference file: no section

    settle(at.toggle(key="compare_heatmaps").set_value(True).run())
    assert not at.exception and "dark means the model got that pixel right" in texts(at.caption)
    at.selectbox(key="compare_class").set_value(3)
    settle(at.number_input(key="compare_seed").set_value(7).run())
    assert not at.exception


def test_runs_of_different_datasets_are_shown_the_chosen_datasets_images(with_runs):
    at = opened("pages/compare.py", {"compare_runs": [with_runs["ae"].id, with_runs["digits"].id]})
    assert "learned from different images" in texts(at.info)
    assert at.selectbox(key="compare_dataset").value == "fashion-mnist-sample"
    settle(at.selectbox(key="compare_dataset").set_value("digits").run())
    assert not at.exception
    assert "359 test images" in texts(at.caption)  # scored on the digits test split


def test_one_chosen_run_is_shown_with_a_hint_and_none_stops(with_runs):
    at = opened("pages/compare.py", {"compare_runs": [with_runs["vae"].id]})
    assert "Add a second model" in texts(at.info) and len(at.dataframe) == 2  # the plain table and every score
    settle(at.multiselect(key="compare_runs").set_value([]).run())
    assert not at.exception and "Pick a model" in texts(at.info) and not charts(at)


def test_reference_values_show_beside_the_scores_when_measured(with_runs, tmp_path):
    row = {"preset": "fashion-mlp", "title": "FashionMNIST fully connected AE", "model": "mlp_ae", "latent_dim": 64,
           "epochs": 5, "status": "done", "seconds": 40.0, "mse": 0.0121, "ssim": 0.71, "psnr": 19.4,
           "pca_mse": 0.0139, "pca_ssim": 0.66}
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "fashion-mnist.json").write_text(json.dumps({
        "dataset": "fashion-mnist", "train_images": 60000, "test_images": 10000, "device": "cpu", "threads": 2,
        "measured": "2026-11-22", "mean_image": {"mse": 0.094, "ssim": 0.21}, "presets": [row]}))
    at = opened("pages/compare.py")
    assert "How good is this?" in [e.label for e in at.expander]
    assert "Lower MSE and higher SSIM are better" in texts(at.markdown) and "full FashionMNIST training set (60,000 images)" in texts(at.markdown)
    reference = at.dataframe[2].value
    assert list(reference["Set-up"]) == ["FashionMNIST fully connected AE",
                                         "The average training image (learned nothing)"]
    assert list(reference["MSE"]) == ["0.0121", "0.0940"] and list(reference["PCA MSE"]) == ["0.0139", "—"]


def test_latent_map_by_pca_then_tsne_then_in_3d(with_runs):
    ae = with_runs["ae"].id
    at = opened("pages/latent.py", {"latent_run": ae, "latent_points_wanted": SMALL})
    assert charts(at) == ["latent_scatter"]
    assert "PCA turns the 8-number codes" in texts(at.caption)
    assert "Click any dot" in texts(at.info)
    settle(at.button_group(key="latent_method").set_value("tsne").run())
    assert not at.exception and "t-SNE rearranges" in texts(at.caption)
    assert at.slider(key="latent_perplexity").value == 30
    settle(at.toggle(key="latent_3d").set_value(True).run())
    assert not at.exception and "switch 3-D off" in texts(at.caption)


def test_the_number_of_images_is_capped_by_each_test_set_and_remembered(with_runs):
    at = opened("pages/latent.py", {"latent_run": with_runs["digits"].id})
    assert at.number_input(key="latent_n").value == 359  # 5,000 asked for, the digits test set holds 359
    settle(at.number_input(key="latent_n").set_value(SMALL).run())
    assert at.session_state["latent_points_wanted"] == SMALL
    settle(at.selectbox(key="latent_run").set_value(with_runs["vae"].id).run())
    assert not at.exception and at.number_input(key="latent_n").value == SMALL


@pytest.mark.parametrize("run, words", [("vae", "shows them as they are"), ("digits", "single number")])
def test_small_codes_are_drawn_as_they_are(with_runs, run, words):
    at = opened("pages/latent.py", {"latent_run": with_runs[run].id, "latent_points_wanted": SMALL})
    assert charts(at) == ["latent_scatter"]
    assert words in texts(at.caption)
    assert at.toggle(key="latent_3d").disabled


def test_a_picked_point_shows_its_image_neighbours_and_the_walk_from_the_one_before(with_runs):
    vae = with_runs["vae"].id
    at = opened("pages/latent.py", {"latent_run": vae, "latent_points_wanted": 2000,
                                       "latent_picks": {"run": vae, "images": [5, 42]}})
    heads = texts(at.subheader)
    assert "Image 42:" in heads and "From image 5" in heads and "to image 42" in heads
    assert at.slider(key="latent_k").value == 8 and at.slider(key="latent_steps").value == 9
    assert len(at.get("image")) >= 4  # the image, its redrawing, the neighbours, the walk
    settle(at.slider(key="latent_steps").set_value(4).run())
    assert not at.exception
    settle(at.button(key="latent_clear").click().run())
    assert not at.exception and "Click any dot" in texts(at.info) and "latent_picks" not in at.session_state


def test_picks_of_another_run_are_ignored(with_runs):
    at = opened("pages/latent.py", {"latent_run": with_runs["ae"].id, "latent_points_wanted": SMALL,
                                       "latent_picks": {"run": with_runs["vae"].id, "images": [5]}})
    assert "Click any dot" in texts(at.info) and not at.subheader


def test_two_sessions_on_the_latent_page_share_one_tsne(with_runs):
    """Both sessions wait on one queued t-SNE (the compute slot is held first), which runs once for both."""
    state = {"latent_run": with_runs["ae"].id, "latent_points_wanted": 150, "latent_method": "tsne",
             "latent_perplexity": 17}
    gate = threading.Event()
    blocker = background.submit(lambda ctx: gate.wait(60), "compute")
    before = ui.shared_results.computed["projection"]
    try:
        sessions = [open_page("pages/latent.py", state) for _ in range(2)]
        for at in sessions:
            assert [p.proto.text for p in at.get("progress")] == ["Drawing the map: waiting for other work to finish "
                                                                  "(next in line)"]
            assert not charts(at)
    finally:
        gate.set()
    background.wait(blocker, 10)
    for at in sessions:
        settle(at)
        assert charts(at) == ["latent_scatter"] and "t-SNE rearranges" in texts(at.caption)
    assert ui.shared_results.computed["projection"] == before + 1


def test_the_reference_table_shows_ssim_after_a_minute_as_the_benchmark_wrote_it(with_runs, tmp_path):
    """bench_quality writes its budgets as float keys ("60.0"); the table read "60" and showed only dashes."""
    row = {"preset": "quick-demo", "title": "Quick demo", "model": "conv_ae", "latent_dim": 32,
           "epochs": 4, "status": "done", "seconds": 61.0, "mse": 0.0121, "ssim": 0.71, "psnr": 19.4,
           "pca_mse": 0.0139, "pca_ssim": 0.66, "at": {"15.0": {"mse": 0.02, "ssim": 0.6}, "60.0": {"mse": 0.013,
                                                                                                  "ssim": 0.705}}}
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "fashion-mnist.json").write_text(json.dumps({
        "dataset": "fashion-mnist", "train_images": 60000, "test_images": 10000,
        "mean_image": {"mse": 0.094, "ssim": 0.21}, "presets": [row]}))
    at = opened("pages/compare.py")
    assert list(at.dataframe[2].value["SSIM after 60 s"]) == ["0.705", "—"]
