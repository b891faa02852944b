"""Every page, as a class sees it and on the projector: each opens without an error in normal and presenter mode,
with a trained model in the store, and leaves a screenshot in artifacts/screenshots/ to look at."""

from __future__ import annotations

import dataclasses

import pytest

from aecore.presets import get_preset
from aecore.store import runs
from aecore.train import train_run
from studio import no_exception, screenshot, start_server, stop_server, wait_idle

PAGES = {"": "Autoencoder Studio", "train": "Train", "runs": "Runs", "compare": "Compare", "latent": "Latent space",
         "generate": "Generate", "denoise": "Denoise", "anomalies": "Anomalies", "your_image": "Your image",
         "pictures": "Your pictures"}


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """A server with two real models of the quick demo's kind, a denoising one and a 2-D VAE (short runs)."""
    root = tmp_path_factory.mktemp("every-page") / "runs"
    for preset, epochs in (("quick-demo", 1), ("denoise-demo", 1), ("vae-2d", 3)):
        cfg = get_preset(preset)
        result = train_run(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs)), "cpu")
        assert result.history.finished, result.history.message
        runs.save_run(result, root=root)
    proc, url = start_server(root)
    yield url
    stop_server(proc)


@pytest.mark.parametrize("mode", ["normal", "presenter"])
def test_every_page_opens_in_both_modes(class_server, page, mode):
    query = "?present=true" if mode == "presenter" else ""
    for path, title in PAGES.items():
        page.goto(f"{class_server}/{path}{query}")
        page.get_by_role("heading", name=title).first.wait_for(timeout=120_000)
        wait_idle(page, 120_000)
        page.wait_for_timeout(800)  # charts and images finish drawing after the script run
        no_exception(page)
        font = page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert (font > 16.5) == (mode == "presenter"), (path, font)
        screenshot(page, f"{mode}-{path or 'home'}")
