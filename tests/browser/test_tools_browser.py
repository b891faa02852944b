"""What a person sees on Generate, Denoise, Anomalies and Your image, with real saved runs in a real browser.

The app server here has its own run store holding three small real runs (a plain autoencoder, one trained
to remove noise and a VAE with a 2-number code); screenshots of every page land with the other artifacts.
"""

from __future__ import annotations

import dataclasses
import io
import time

import numpy as np
import pytest
from playwright.sync_api import expect
from PIL import Image

from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.config import default_config
from aecore.train import train_run
from studio import choose_file, no_exception, record_timing, screenshot, start_server, stop_server, wait_idle

SMALL = DataConfig(limit_train=512, limit_test=200)


@pytest.fixture(scope="module")
def tools_server(tmp_path_factory):
    """An app server whose run store holds three small real runs."""
    root = tmp_path_factory.mktemp("tools-browser") / "runs"
    for cfg in (
        RunConfig(SMALL, ModelConfig(latent_dim=8), TrainConfig(epochs=1), name="plain"),
        RunConfig(SMALL, default_config("conv_ae"), TrainConfig(epochs=1, noise="gaussian", noise_level=0.3),
                  name="denoiser"),
        RunConfig(SMALL, dataclasses.replace(default_config("vae"), latent_dim=2), TrainConfig(epochs=1), name="vae"),
    ):
        result = train_run(cfg, device="cpu")
        # a stand-in for a trained model: a run this short is no_better, which the analysis pages leave out
        runs.save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")), root=root)
    proc, url = start_server(root)
    yield url
    stop_server(proc)


def open_page(page, url: str, path: str, last_text: str) -> None:
    """Open a page and wait for the text it draws last: the script can look idle between its first runs."""
    page.goto(f"{url}/{path}")
    page.get_by_text(last_text, exact=False).first.wait_for(timeout=90_000)
    wait_idle(page)
    no_exception(page)


def whole_page(page, name: str) -> None:
    wait_idle(page)
    screenshot(page, name)


def shoe_png() -> bytes:
    picture = np.full((120, 180, 3), 240, np.uint8)
    picture[60:100, 20:160] = 25
    picture[35:60, 20:80] = 25
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "PNG")
    return buf.getvalue()


def test_generate_draws_samples_a_map_and_slider_images(page, tools_server):
    open_page(page, tools_server, "generate", "Each row moves one slider")
    expect(page.get_by_text("New images from random codes")).to_have_count(1)
    expect(page.get_by_text("The whole map of its 2-number codes")).to_have_count(1)
    expect(page.get_by_role("slider")).to_have_count(3)  # the temperature and two directions
    before = page.locator('[data-testid="stImage"] img').first.get_attribute("src")
    page.get_by_role("button", name="New samples").click()
    page.wait_for_function(
        "src => document.querySelector('[data-testid=\"stImage\"] img')?.getAttribute('src') !== src", arg=before)
    wait_idle(page)
    no_exception(page)
    whole_page(page, "generate")


def test_denoise_shows_both_models_with_psnr(page, tools_server):
    open_page(page, tools_server, "denoise", "PSNR (peak signal-to-noise ratio)")
    expect(page.get_by_text("PSNR after the model")).to_have_count(2)
    expect(page.get_by_text("Trained to remove gaussian noise", exact=False)).to_have_count(1)
    expect(page.locator('[data-testid="stImage"]')).to_have_count(2)
    # clean, noisy, rebuilt: a third of the grid's height is one tile and its gap, as the page shows it
    row_px = page.locator('[data-testid="stImage"] img').first.evaluate("img => img.clientHeight / 3")
    assert row_px >= 60, f"Denoise tiles are about {row_px:.0f} px on a 1400 px page"
    whole_page(page, "denoise")


def test_anomalies_scores_a_model_and_trains_a_one_class_detector(page, tools_server):
    open_page(page, tools_server, "anomalies", "Nothing trained for this class yet")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible")
    expect(page.locator('[data-testid="stImage"]')).to_have_count(16)
    start = time.perf_counter()
    page.get_by_role("button", name="only").click()
    page.get_by_text("Tells them apart").wait_for(timeout=120_000)
    record_timing("one_class_demo_click_to_result_s", time.perf_counter() - start)
    wait_idle(page)
    no_exception(page)
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(4)
    whole_page(page, "anomalies")


def test_your_image_redraws_an_uploaded_png_and_refuses_a_bad_file(page, tools_server):
    open_page(page, tools_server, "your_image", "Upload a picture above")
    choose_file(page, {"name": "shoe.png", "mimeType": "image/png", "buffer": shoe_png()})
    page.get_by_text("Error colours, the same for every model", exact=False).wait_for(timeout=60_000)  # drawn last
    wait_idle(page)
    no_exception(page)
    expect(page.get_by_text("Inverted: light background detected", exact=False)).to_have_count(1)
    expect(page.get_by_text("Error (MSE)")).to_have_count(3, timeout=30_000)  # one per model, drawn one by one
    expect(page.get_by_text("Redrawn", exact=True)).to_have_count(3, timeout=30_000)
    whole_page(page, "your-image")

    choose_file(page, {"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture"})
    page.get_by_text("not an image in a supported format", exact=False).wait_for(timeout=30_000)
    page.get_by_text("Error (MSE)").first.wait_for(state="detached", timeout=30_000)  # the old results go
    wait_idle(page)
    no_exception(page)
    screenshot(page, "your-image-refused")
