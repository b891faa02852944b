"""The Generate, Denoise, Anomalies and Your image pages through Streamlit's AppTest, on small real saved runs.

Three runs are trained once for the module (a plain mlp_ae, a conv_ae trained to remove Gaussian noise and a
VAE with a 2-number code, each one short epoch on 512 images); each page must render them without an
exception, show what it promises, and show the empty state on an empty run store.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apptest import open_page, settle, texts

from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.config import default_config
from aecore.train import train_run
from ui.uploads import frame_fill, read_picture

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("pages/generate.py", "pages/denoise.py", "pages/anomalies.py", "pages/your_image.py")
SMALL = DataConfig(limit_train=512, limit_test=200)


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory) -> dict[str, str]:
    """Run ids by name: 'plain', 'denoiser' and 'vae', saved into a store shared by this module's tests."""
    root = tmp_path_factory.mktemp("tools") / "runs"
    configs = {
        "plain": RunConfig(SMALL, ModelConfig(latent_dim=8), TrainConfig(epochs=1), name="plain"),
        "denoiser": RunConfig(SMALL, default_config("conv_ae"),
                              TrainConfig(epochs=1, noise="gaussian", noise_level=0.3), name="denoiser"),
        "vae": RunConfig(SMALL, dataclasses.replace(default_config("vae"), latent_dim=2), TrainConfig(epochs=1),
                         name="vae"),
    }
    return {"root": str(root), **{name: runs.save_run(done(train_run(cfg, device="cpu")), root=root).id
                                  for name, cfg in configs.items()}}


def done(result):
    """Marked done: stand-ins for trained models: a run this short is no_better, which these pages leave out."""
    return dataclasses.replace(result, history=dataclasses.replace(result.history, status="done"))


@pytest.fixture
def store(saved_runs, monkeypatch) -> dict[str, str]:
    """This module's saved runs as the app's run store; AppTest finds app.py and pages/ from the repository."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_RUNS_DIR", saved_runs["root"])
    return saved_runs






def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def shoe_png() -> bytes:
    """A dark, shoe-like block on a light background, as a phone photo of a drawing might be."""
    picture = np.full((120, 180), 240, np.uint8)
    picture[60:100, 20:160] = 25
    picture[35:60, 20:80] = 25
    return png_bytes(picture)


@pytest.mark.parametrize("page", PAGES)
def test_every_tool_page_shows_the_empty_state_without_runs(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    at = open_page(page)
    assert "Train one first" in texts(at.info)
    assert any(link.label == "Go to Train" for link in at.page_link)


def test_generate_samples_a_vae_maps_its_codes_and_steers_any_model(store):
    at = open_page("pages/generate.py")
    assert at.selectbox(key="generate_run").value == store["vae"]  # a VAE is preselected
    assert at.radio(key="generate_source").value == "prior"
    assert len(at.slider) == 3  # the temperature, and two directions for a 2-number code
    names = [s.label for s in at.slider][1:]
    assert all(re.fullmatch(r"Main direction [12] — \d+% of the variety", n) for n in names), names
    # samples, the 2-D map, the sliders' image, the per-slider strips, the class walk and the picture's strip
    assert len(at.image) == 6
    samples = at.image[0].proto.imgs[0].url
    at.button(key="generate_new").click().run()
    assert not at.exception and at.number_input(key="generate_seed").value == 1
    assert at.image[0].proto.imgs[0].url != samples
    samples = at.image[0].proto.imgs[0].url
    at.slider(key="generate_temperature").set_value(0.5).run()
    assert not at.exception and at.image[0].proto.imgs[0].url != samples
    at.slider(key="generate_slider_0").set_value(2.5).run()
    assert not at.exception

    at.selectbox(key="generate_run").set_value(store["plain"]).run()
    settle(at)
    assert not at.exception and not at.radio  # a plain autoencoder draws from the mixture of its codes
    assert "split into 10 groups" in texts(at.caption)
    assert len(at.slider) == 4 and len(at.image) == 5  # 8-number code: four sliders; no 2-D map
    samples = at.image[0].proto.imgs[0].url
    at.number_input(key="generate_components").set_value(3).run()
    settle(at)
    assert "split into 3 groups" in texts(at.caption) and at.image[0].proto.imgs[0].url != samples
    at.button(key="generate_reset").click().run()
    assert not at.exception and at.slider(key="generate_slider_0").value == 0.0


def test_generate_moves_a_picture_from_one_class_to_another(store):
    at = open_page("pages/generate.py", state={"generate_run": store["plain"]})
    settle(at)
    assert at.selectbox(key="generate_class_a").value == 0 and at.selectbox(key="generate_class_b").value == 1
    walk, strip = at.image[-2].proto.imgs[0].url, at.image[-1].proto.imgs[0].url
    at.selectbox(key="generate_class_b").set_value(7).run()
    assert not at.exception and at.image[-2].proto.imgs[0].url != walk and at.image[-1].proto.imgs[0].url != strip
    strip = at.image[-1].proto.imgs[0].url
    at.number_input(key="generate_pick").set_value(3).run()
    assert not at.exception and at.image[-1].proto.imgs[0].url != strip
    assert "Sneaker" in texts(at.caption)


def test_denoise_puts_a_denoising_run_beside_a_plain_one(store):
    at = open_page("pages/denoise.py")
    assert at.selectbox(key="denoise_run_a").value == store["denoiser"]
    assert at.selectbox(key="denoise_run_b").value in (store["plain"], store["vae"])
    labels = [m.label for m in at.metric]
    assert labels.count("PSNR of the noisy images") == 2 and labels.count("PSNR after the model") == 2
    assert len(at.image) == 2 and "Trained to remove gaussian noise at level 0.3" in texts(at.caption)
    noisy = at.image[0].proto.imgs[0].url
    at.selectbox(key="denoise_kind").set_value("mask").run()
    assert not at.exception and at.image[0].proto.imgs[0].url != noisy
    at.button(key="denoise_shuffle").click().run()
    assert not at.exception


def test_denoise_shows_two_different_models_whenever_two_exist_and_says_when_it_cannot(store, tmp_path, monkeypatch):
    two_plain = tmp_path / "two-plain"
    for name in ("plain", "vae"):
        shutil.copytree(Path(store["root"]) / store[name], two_plain / store[name])
    monkeypatch.setenv("AECORE_RUNS_DIR", str(two_plain))
    at = open_page("pages/denoise.py")
    assert {at.selectbox(key="denoise_run_a").value, at.selectbox(key="denoise_run_b").value} == {store["plain"],
                                                                                                 store["vae"]}
    assert "same model" not in texts(at.info)
    at.selectbox(key="denoise_run_b").set_value(at.selectbox(key="denoise_run_a").value).run()
    assert "Both sides show the same model" in texts(at.info)
    only_one = tmp_path / "one"
    shutil.copytree(Path(store["root"]) / store["plain"], only_one / store["plain"])
    monkeypatch.setenv("AECORE_RUNS_DIR", str(only_one))
    assert "Only one model is saved" in texts(open_page("pages/denoise.py").info)


def test_denoise_explains_how_to_make_a_denoising_run(store, tmp_path, monkeypatch):
    only_plain = tmp_path / "plain-only"
    shutil.copytree(Path(store["root"]) / store["plain"], only_plain / store["plain"])
    monkeypatch.setenv("AECORE_RUNS_DIR", str(only_plain))
    at = open_page("pages/denoise.py")
    assert "'Denoising demo' preset" in texts(at.info)
    assert len(at.image) == 2  # both sides still work, with the one plain model


def test_anomalies_scores_classes_and_runs_the_one_class_demo_in_the_background(store):
    at = settle(open_page("pages/anomalies.py"))  # the scoring of every test image is background work
    assert len(at.get("plotly_chart")) == 1  # the per-class box plot
    assert len(at.image) == 16 and "·" in at.image[0].proto.imgs[0].caption  # the worst images, class and error
    at.selectbox(key="anomalies_dataset").set_value("digits")
    at.selectbox(key="anomalies_class").set_value(3).run()
    assert not at.exception and "Nothing trained for this class yet" in texts(at.caption)
    at.button(key="anomalies_train").click().run()
    assert not at.exception
    deadline = time.monotonic() + 60
    while "Tells them apart" not in [m.label for m in at.metric]:
        assert time.monotonic() < deadline, "the one-class demo did not finish in 60 s"
        time.sleep(0.3)
        at.run()  # what the polling fragment does in a browser
        assert not at.exception, at.exception
    auc = next(m for m in at.metric if m.label == "Tells them apart")
    assert float(auc.value.rstrip("%")) > 60 and "area under the ROC curve" in auc.help  # the term in its details
    assert len(at.get("plotly_chart")) == 4  # box plot, ROC, histograms, this detector's box plot
    assert at.button(key="anomalies_train").disabled  # the finished demo is kept
    assert "the model only ever saw" in texts(at.markdown).lower()


def test_your_image_redraws_an_upload_with_every_chosen_model(store):
    at = open_page("pages/your_image.py")
    assert "Upload a picture above" in texts(at.info)
    assert len(at.multiselect(key="your_image_runs").value) == 3
    at.file_uploader(key="your_image_upload").set_value(("shoe.png", shoe_png(), "image/png")).run()
    assert not at.exception, at.exception
    assert "Inverted: light background detected" in texts(at.caption)
    assert [m.label for m in at.metric].count("Error (MSE)") == 3
    # the preview; each model's input, redrawing and error, then the test images nearest the picture; the colour scale
    assert len(at.image) == 1 + 3 * 2 + 1
    assert [len(img.proto.imgs) for img in at.image[1:7]] == [3, 1] * 3
    maps = [c for c in at.get("plotly_chart")]
    assert len(maps) == 3 and all("Your picture" in c.proto.spec for c in maps)  # its point on each model's map
    assert texts(at.markdown).count("for this model: it redraws") == 3


def test_your_image_refuses_a_bad_file_with_a_plain_message(store):
    at = open_page("pages/your_image.py")
    at.file_uploader(key="your_image_upload").set_value(("notes.png", b"not an image at all", "image/png")).run()
    assert not at.exception
    assert "not an image in a supported format" in texts(at.error)
    assert not at.metric


def test_your_image_takes_a_test_image_instead(store):
    at = open_page("pages/your_image.py")
    at.radio(key="your_image_source").set_value("test").run()
    assert not at.exception
    assert [m.label for m in at.metric].count("Error (MSE)") == 3
    first = at.image[0].proto.imgs[0].url
    at.button(key="your_image_next").click().run()
    assert not at.exception and at.image[0].proto.imgs[0].url != first


def test_read_picture_turns_uploads_into_model_input_or_a_message():
    user, problem = read_picture(shoe_png())
    assert problem is None and user.preview.shape == (28, 28) and user.inverted
    framed, _ = read_picture(shoe_png(), frame_fill("mnist-sample"))
    assert (framed.preview[:, :3] == 0).all() and not (user.preview[:, :3] == 0).all()  # digits keep a margin
    for bad in (b"", b"%PDF-1.7 not a picture", png_bytes(np.zeros((4, 4), np.uint8))[:30]):
        user, problem = read_picture(bad)
        assert user is None and problem and "Traceback" not in problem
