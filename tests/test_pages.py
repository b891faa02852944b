"""Every page through Streamlit's AppTest: it renders, has its widgets, and its buttons do what they say.

Training runs for real (digits, one epoch, in the background job registry); runs for the Runs page are
made with a two-step `train_run`. The whole file runs in well under a minute.
"""

from __future__ import annotations

import dataclasses
import re
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from apptest import open_page, texts

import aecore.download
import aecore.prepare
import aecore.jobs
from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.presets import VAE_MIN_DELTA
from aecore.train import train_run
from ui.runs import import_zip
from ui.text import plain

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("pages/home.py", "pages/train.py", "pages/runs.py")
TRAIN_KEYS = ("dataset", "preset", "model", "latent_dim", "epochs", "batch_size", "lr", "noise", "noise_level", "patience")


@pytest.fixture(autouse=True)
def in_repo(monkeypatch, tmp_path):
    """AppTest resolves app.py and pages/ from the repository; full datasets are looked for in an empty folder."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path / "data"))




def wait_for(job_id: str, until, timeout: float = 60.0) -> aecore.jobs.Progress:
    deadline = time.monotonic() + timeout
    while not until(p := aecore.jobs.progress(job_id)):
        assert time.monotonic() < deadline, f"job {job_id} is still {p.state} at step {p.step}"
        time.sleep(0.05)
    return p




def save_small_run(name: str, status: str = "done") -> runs.RunInfo:
    cfg = RunConfig(DataConfig(limit_train=256, limit_test=64), ModelConfig(latent_dim=8),
                    TrainConfig(epochs=1, max_steps=2), name=name)
    result = train_run(cfg, device="cpu")  # two steps: no_better, unless told otherwise
    result = dataclasses.replace(result, history=dataclasses.replace(result.history, status=status))
    return runs.save_run(result)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_inside_the_app_with_its_sidebar(page, runs_dir):
    at = open_page(page)  # AppTest, like a fresh server, runs a page file first on its own: require_shell reruns it
    assert at.title[0].value
    sidebar = texts(at.caption)
    assert str(runs_dir.resolve()) not in sidebar and "Nothing is training" in sidebar  # no server path for visitors


def test_home_explains_and_links_to_train():
    at = open_page("pages/home.py")
    assert "autoencoder" in texts(at.markdown).lower()
    assert {link.label for link in at.page_link} >= {"Start training", "See saved runs"}
    assert len(at.image) == 2  # a gallery per bundled sample


def test_train_page_has_every_setting_with_help():
    at = open_page("pages/train.py")
    for key in TRAIN_KEYS:
        widget = at.get_by_key(key)
        assert widget.help, key
    assert at.button(key="train").label.startswith("Train")
    assert not at.button(key="train").disabled
    assert at.selectbox(key="dataset").value == "fashion-mnist-sample"


def test_a_preset_fills_in_the_settings():
    at = open_page("pages/train.py")
    at.selectbox(key="preset").set_value("denoise-demo").run()
    values = {k: at.session_state[k] for k in ("model", "latent_dim", "epochs", "noise", "noise_level")}
    assert values == {"model": "conv_ae", "latent_dim": 32, "epochs": 4, "noise": "gaussian", "noise_level": 0.3}
    at.selectbox(key="model").set_value("vae").run()
    assert at.number_input(key="latent_dim").value == 16  # the VAE's own code size
    assert "Changed from the preset: model, code size, loss." in texts(at.caption)  # a VAE brings its own loss
    at.selectbox(key="noise").set_value("none").run()
    assert at.slider(key="noise_level").disabled


def test_settings_that_clash_say_so_and_block_training():
    at = open_page("pages/train.py")
    at.selectbox(key="noise").set_value("mask").run()
    assert at.slider(key="noise_level").value == 0.3
    at.slider(key="noise_level").set_value(0.0).run()
    assert "do not fit together" in texts(at.error)
    assert at.button(key="train").disabled


def test_a_missing_dataset_offers_a_download_that_fails_clearly_offline(monkeypatch):
    _, resources = aecore.download.sources("fashion-mnist")
    monkeypatch.setattr(aecore.download, "sources", lambda name: (("http://127.0.0.1:9/",), resources))
    monkeypatch.setattr(aecore.prepare, "_status", {})
    at = open_page("pages/train.py")
    at.selectbox(key="dataset").set_value("fashion-mnist").run()
    assert at.button(key="train").disabled
    at.button(key="download").click().run()
    deadline = time.monotonic() + 30
    while aecore.prepare.download_status("fashion-mnist").state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    at.run()
    assert not at.exception
    assert "download failed" in texts(at.error) and "bundled sample" in texts(at.error)
    assert "could not download" in texts(at.caption)  # the details, for whoever fixes the connection
    assert at.button(key="download").label == "Download"  # offered again


def test_a_download_waiting_for_its_turn_shows_its_place_and_then_its_outcome(monkeypatch):
    import threading

    from aecore import background

    _, resources = aecore.download.sources("fashion-mnist")
    monkeypatch.setattr(aecore.download, "sources", lambda name: (("http://127.0.0.1:9/",), resources))
    monkeypatch.setattr(aecore.prepare, "_status", {})
    release = threading.Event()
    busy = background.submit(lambda ctx: release.wait(30), "compute")  # a long map holds the one compute slot
    try:
        at = open_page("pages/train.py")
        at.selectbox(key="dataset").set_value("fashion-mnist").run()
        at.button(key="download").click().run()
        assert not at.exception
        shown = " ".join(p.proto.text for p in at.get("progress"))
        # behind the held slot, and the page's own quick prefetch and warm-up, which queued first
        assert re.search(r"Downloading FashionMNIST, full: waiting for other work to finish \((next in line|"
                         r"\d+ ahead of it in line)\)", shown), shown
    finally:
        release.set()
    background.wait(busy, 30)
    deadline = time.monotonic() + 30
    while aecore.prepare.download_status("fashion-mnist").state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    at.run()
    assert "download failed" in texts(at.error) and not at.get("progress")


def start_training(at: AppTest, epochs: int, lr: float | None = None, dataset: str = "digits",
                   patience: int | None = None) -> str:
    at.selectbox(key="dataset").set_value(dataset).run()
    at.selectbox(key="model").set_value("mlp_ae").run()
    at.number_input(key="epochs").set_value(epochs).run()
    if patience is not None:
        at.number_input(key="patience").set_value(patience).run()
    if lr is not None:
        at.number_input(key="lr").set_value(lr).run()
    at.button(key="train").click().run()
    assert not at.exception, at.exception
    return at.query_params["job"]


def test_training_from_the_train_page_reaches_done_and_is_saved():
    at = open_page("pages/train.py")
    job_id = start_training(at, epochs=10, lr=0.003)  # what beats the average digit: about a second
    p = wait_for(job_id, lambda p: p.finished)
    assert p.state == "done", p.message
    assert [r.id for r in runs.list_runs()] == [p.run_id]
    at.run()
    assert not at.exception
    assert "Finished in" in texts(at.success)
    assert {m.label for m in at.metric} >= {"MSE", "SSIM", "PSNR (dB)"}
    assert "runs" in {link.page for link in at.page_link}
    rejoined = open_page("pages/train.py", query={"job": job_id})  # a refresh, or another tab
    assert "Finished in" in texts(rejoined.success)


def test_training_again_follows_the_new_job_not_the_one_in_the_address():
    at = open_page("pages/train.py")
    first = start_training(at, epochs=1)
    wait_for(first, lambda p: p.finished)
    at.run()
    at.number_input(key="epochs").set_value(2).run()
    at.button(key="train").click().run()
    second = at.query_params["job"]
    assert second != first and at.session_state.job_id == second
    assert aecore.jobs.progress(second).total_epochs == 2  # the settings as they were at the click
    assert wait_for(second, lambda p: p.finished).state == "no_better"  # two epochs of digits: the average digit


def test_opening_train_again_shows_the_run_that_finished_last_until_a_new_one_starts():
    job_id = start_training(open_page("pages/train.py"), epochs=10, lr=0.003)
    p = wait_for(job_id, lambda p: p.finished)
    assert p.state == "done" and p.run_id, p.message
    again = open_page("pages/train.py")  # a new tab or visitor: no job in its link or its session
    assert "Ready when you are" not in texts(again.markdown)
    assert "Finished in" in texts(again.success) and "trained here last" in texts(again.caption)


def test_clicking_train_again_does_not_start_the_same_job_twice():
    at = open_page("pages/train.py")
    first = start_training(at, epochs=200)  # quick clicks in a real browser: tests/browser/test_train_browser.py
    assert [p.job_id for p in aecore.jobs.list_jobs() if not p.finished] == [first]
    assert at.button(key="train").disabled
    assert "exactly these settings is training now" in texts(at.caption)
    at.number_input(key="epochs").set_value(199).run()  # a different run is a deliberate choice
    assert not at.button(key="train").disabled
    at.button(key="train").click().run()
    second = at.query_params["job"]
    assert second != first and aecore.jobs.progress(second).total_epochs == 199
    for job_id in (first, second):
        aecore.jobs.stop(job_id)
        wait_for(job_id, lambda p: p.finished)


def test_a_vae_picked_without_its_preset_gets_a_min_delta_in_nats():
    at = open_page("pages/train.py")
    at.selectbox(key="model").set_value("vae").run()
    at.number_input(key="epochs").set_value(200).run()
    at.button(key="train").click().run()
    job_id = at.query_params["job"]
    assert aecore.jobs.progress(job_id).config.train.min_delta == VAE_MIN_DELTA
    aecore.jobs.stop(job_id)
    wait_for(job_id, lambda p: p.finished)
    at.run()
    at.selectbox(key="model").set_value("conv_ae").run()
    assert at.button(key="train").disabled is False
    at.button(key="train").click().run()
    job_id = at.query_params["job"]
    assert aecore.jobs.progress(job_id).config.train.min_delta == TrainConfig().min_delta
    aecore.jobs.stop(job_id)
    wait_for(job_id, lambda p: p.finished)


def test_stop_with_keep_partial_saves_a_marked_run():
    at = open_page("pages/train.py")
    # epochs of the 10,000-image sample and no early stopping: still training when Stop is clicked, however busy
    job_id = start_training(at, epochs=200, dataset="fashion-mnist-sample", patience=0)
    wait_for(job_id, lambda p: p.step > 0)
    at.run()
    assert re.search(r"Epoch \d+/200 · batch", " ".join(p.proto.text for p in at.get("progress")))
    at.checkbox(key="keep_partial").check().run()
    at.button(key="stop").click().run()
    p = wait_for(job_id, lambda p: p.finished)
    assert p.state == "stopped" and p.run_id, (p.state, p.message, p.step, p.epoch)
    at.run()
    assert "partial model was saved" in texts(at.warning)
    table = open_page("pages/runs.py").dataframe[0].value
    assert table["Status"].tolist() == ["⚠ stopped (partial)"]


@pytest.mark.parametrize("state, message, shown", [
    ("diverged", "loss became nan at step 3 (epoch 1); try a lower learning rate. Nothing was saved.",
     "Lower the learning rate (try 0.00033)"),
    ("failed", "DatasetUnavailable: MNIST is not in /data", "choose a bundled sample dataset"),
])
def test_a_job_that_went_wrong_says_what_to_do(monkeypatch, state, message, shown):
    p = aecore.jobs.Progress("0123456789ab", state, RunConfig(), total_epochs=5, message=message)
    monkeypatch.setattr(aecore.jobs, "progress", lambda job_id: p)
    at = open_page("pages/train.py", query={"job": p.job_id})
    assert shown in texts(at.error)
    assert message in texts(at.caption)
    assert not at.metric


def test_a_model_no_better_than_the_average_image_is_a_warning_not_a_success(monkeypatch):
    message = "test MSE 0.1895 is no better than the average image's 0.0891: try a lower learning rate or more epochs"
    p = aecore.jobs.Progress("0123456789ab", "no_better", RunConfig(), total_epochs=5, message=message,
                             metrics={"mse": 0.1895, "mean_image_mse": 0.0891})
    monkeypatch.setattr(aecore.jobs, "progress", lambda job_id: p)
    at = open_page("pages/train.py", query={"job": p.job_id})
    assert "no better than the average image" in texts(at.warning) and "Lower the learning rate" in texts(at.warning)
    assert not at.success and message in texts(at.caption)


def test_a_finished_run_leads_with_one_plain_score_and_pca_as_a_neutral_sentence(monkeypatch):
    p = aecore.jobs.Progress("0123456789ab", "done", RunConfig(), total_epochs=5,
                             metrics={"mse": 0.0201, "ssim": 0.7712, "psnr": 17.9, "mean_image_mse": 0.09})
    monkeypatch.setattr(aecore.jobs, "progress", lambda job_id: p)
    at = open_page("pages/train.py", query={"job": p.job_id})
    headline = next(m for m in at.metric if m.label == "Looks alike")
    assert headline.value == "77%"
    assert {m.label for m in at.metric} >= {"MSE", "SSIM", "PSNR (dB)"}  # one click away, in the details
    assert all(not m.proto.delta for m in at.metric)  # no red or green arrow against PCA
    assert "the best a straight-line method (PCA) does with the same 64 numbers per image" in texts(at.markdown)


def test_runs_table_labels_a_run_no_better_than_the_average_image():
    save_small_run("flat", status="no_better")
    at = open_page("pages/runs.py")
    assert at.dataframe[0].value["Status"].tolist() == ["⚠ no better than the average image"]
    assert any("no better than the average image would" in w.value for w in at.warning)
    assert not any("stopped before it finished" in w.value for w in at.warning)


def test_a_queued_job_shows_its_place_in_line(monkeypatch):
    p = aecore.jobs.Progress("0123456789ab", "queued", RunConfig(), queue_position=2, total_epochs=5)
    monkeypatch.setattr(aecore.jobs, "progress", lambda job_id: p)
    at = open_page("pages/train.py", query={"job": p.job_id})
    assert "number 2 in line" in texts(at.info)
    assert at.button(key="stop").label == "Stop"


def test_an_unknown_job_in_the_url_points_to_the_runs_page():
    at = open_page("pages/train.py", query={"job": "0123456789ab"})
    assert "not on this server: the app was restarted" in texts(at.info)
    assert "runs" in {link.page for link in at.page_link}


def test_a_link_to_a_job_this_server_forgot_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path))  # no dataset files: a job fails at once
    monkeypatch.setattr(aecore.jobs.registry(), "keep_finished", 0)  # the server keeps no finished job
    executor = aecore.jobs.registry().executor
    old = aecore.jobs.start(RunConfig(DataConfig(name="mnist")))
    executor.wait(old, 60)
    executor.wait(aecore.jobs.start(RunConfig(DataConfig(name="mnist"))), 60)  # the registry forgets the first
    at = open_page("pages/train.py", query={"job": old})
    assert "keeps the progress of only its latest jobs" in texts(at.info) and "restarted" not in texts(at.info)
    assert "runs" in {link.page for link in at.page_link}


def test_runs_page_without_runs_invites_training():
    at = open_page("pages/runs.py")
    assert "No saved runs yet" in texts(at.info)
    assert "train" in {link.page for link in at.page_link}


def test_runs_table_rename_and_delete_with_confirmation():
    save_small_run("first")
    second = save_small_run("second", status="stopped")
    at = open_page("pages/runs.py")
    table = at.dataframe[0].value
    assert table["Name"].tolist() == ["second", "first"]
    assert table["Status"].tolist() == ["⚠ stopped (partial)", "done"]
    assert at.selectbox(key="run").value == second.id
    assert any("stopped before it finished" in w.value for w in at.warning)

    at.text_input(key="new_name").input("a better name").run()
    at.button(key="rename").click().run()
    assert runs.load_run(second.id).name == "a better name"
    assert "Renamed" in texts(at.success)
    assert at.dataframe[0].value["Name"].tolist()[0] == "a better name"
    at.text_input(key="new_name").input("   ").run()
    at.button(key="rename").click().run()
    assert "Could not rename" in texts(at.error) and runs.load_run(second.id).name == "a better name"

    at.button(key="delete").click().run()
    assert len(runs.list_runs()) == 2  # nothing happens before the confirmation
    at.button(key="cancel_delete").click().run()
    assert len(runs.list_runs()) == 2
    at.button(key="delete").click().run()
    at.button(key="confirm_delete").click().run()
    assert [r.name for r in runs.list_runs()] == ["first"]
    assert not at.exception
    assert at.dataframe[0].value["Name"].tolist() == ["first"]


def test_upload_adds_an_exported_run_and_refuses_other_files(tmp_path):
    info = save_small_run("shared")
    exported = runs.export_run(info.id)
    at = open_page("pages/runs.py")
    at.file_uploader(key="upload").set_value(("notes.zip", b"these are notes, not a zip", "application/zip")).run()
    assert "could not be added" in texts(at.error)
    at.file_uploader(key="upload").set_value(("shared.zip", exported, "application/zip")).run()
    assert f"Added {plain('shared')}" in texts(at.success)
    assert [r.name for r in runs.list_runs()] == ["shared", "shared"]

    kind, message, run_id = import_zip(exported[: len(exported) // 2])  # a truncated download
    assert (kind, run_id) == ("error", None) and "could not be added" in message
    with zipfile.ZipFile(tmp_path / "odd.zip", "w") as zf:
        zf.writestr("config.json", "{}")
    kind, message, _ = import_zip((tmp_path / "odd.zip").read_bytes())
    assert kind == "error" and "lacks" in message


def test_the_message_after_an_upload_shows_the_run_name_as_text():
    name = "![t](http://host/track.png) **bold**"
    exported = runs.export_run(save_small_run(name).id)
    at = open_page("pages/runs.py")
    at.file_uploader(key="upload").set_value(("run.zip", exported, "application/zip")).run()
    assert not at.exception
    assert at.success[0].value == f"Added {plain(name)}."  # a code span: Markdown inside it is not rendered
