"""What a person sees generating images: samples from any autoencoder's code mixture, a VAE at a lower temperature,
and a picture moved from one class to another, with real saved runs in a real browser."""

from __future__ import annotations

import dataclasses
import re

import pytest
from playwright.sync_api import expect

from aecore.store import runs
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.config import default_config
from aecore.train import train_run
from studio import no_exception, screenshot, start_server, stop_server, wait_idle

SMALL = DataConfig(limit_train=3000, limit_test=200)  # enough for pictures a person can tell apart
SAMPLES = '[data-testid="stImage"] img'


@pytest.fixture(scope="module")
def generation_server(tmp_path_factory):
    """An app server whose store holds a small plain autoencoder and a small VAE (the newest, so preselected)."""
    root = tmp_path_factory.mktemp("generation-browser") / "runs"
    for cfg in (RunConfig(SMALL, ModelConfig(latent_dim=8), TrainConfig(epochs=4, lr=3e-3), name="plain"),
                RunConfig(SMALL, default_config("vae"), TrainConfig(epochs=4, lr=3e-3), name="vae")):
        result = train_run(cfg, device="cpu")
        # a stand-in for a trained model: a run this short is no_better, which the analysis pages leave out
        runs.save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")), root=root)
    proc, url = start_server(root)
    yield url
    stop_server(proc)


def settled(page) -> None:
    wait_idle(page, 120_000)
    no_exception(page)


def choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.keyboard.type(option)  # the list shows only its first few options until it is filtered
    page.locator('[role="option"]').filter(has_text=option).first.click()
    settled(page)


def set_number(page, label: str, value: int) -> None:
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.press("Enter")
    settled(page)


def first_image(page) -> str:
    return page.locator(SAMPLES).first.get_attribute("src") or ""


def changed(page, before: str) -> None:
    page.wait_for_function("([sel, src]) => document.querySelector(sel)?.getAttribute('src') !== src",
                           arg=[SAMPLES, before], timeout=120_000)
    settled(page)


def test_a_plain_autoencoder_generates_from_its_codes_and_a_vae_at_a_temperature(page, generation_server):
    page.goto(f"{generation_server}/generate")
    page.get_by_text("From one class to another", exact=True).wait_for(timeout=120_000)
    settled(page)
    choose(page, "Model", "plain")
    page.get_by_text("split into 10 groups", exact=False).wait_for(timeout=120_000)
    expect(page.get_by_text("Sampling needs a variational autoencoder")).to_have_count(0)
    before = first_image(page)
    set_number(page, "Groups of codes", 4)
    page.get_by_text("split into 4 groups", exact=False).wait_for(timeout=120_000)
    changed(page, before)
    screenshot(page, "generate-mixture")

    choose(page, "Model", "vae")
    before = first_image(page)
    slider = page.get_by_role("slider").first  # the temperature
    expect(slider).to_have_value("1")
    slider.focus()
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
    expect(slider).to_have_value(re.compile(r"^0\.4(0*\d?)?$"))
    changed(page, before)
    expect(page.get_by_text("its spread times 0.4", exact=False)).to_have_count(1)
    screenshot(page, "generate-temperature")


def test_a_picture_moves_from_one_class_to_another(page, generation_server):
    page.goto(f"{generation_server}/generate")
    heading = page.get_by_text("From one class to another", exact=True)
    heading.wait_for(timeout=120_000)
    settled(page)
    choose(page, "Model", "plain")
    strips = page.locator('[data-testid="stImage"] img')
    walk_before = strips.nth(-2).get_attribute("src")
    choose(page, "To class", "Sneaker")
    page.wait_for_function("([sel, src]) => { const all = document.querySelectorAll(sel); "
                           "return all.length > 1 && all[all.length - 2].getAttribute('src') !== src; }",
                           arg=['[data-testid="stImage"] img', walk_before], timeout=60_000)
    set_number(page, "Which T-shirt/top picture", 3)
    expect(page.get_by_text("average Sneaker − average T-shirt/top", exact=False)).to_have_count(1)
    heading.scroll_into_view_if_needed()
    screenshot(page, "generate-class-arithmetic")
