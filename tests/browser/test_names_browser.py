"""Run names are shown as the text they are: never as Markdown, HTML or a picture another site serves.

A run can arrive from anywhere (an uploaded zip, a copied folder), so its name is hostile until shown. The
test saves runs whose names are Markdown, HTML and Streamlit directives, opens every page that shows run
names, and checks the browser never asked for the image the name points at and shows the name as typed.
"""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import expect

from studio import no_exception, save_named_runs, screenshot, start_server, stop_server, wait_idle

TRACKER = "http://127.0.0.1:9/track.png"
HOSTILE = (f"![t]({TRACKER}) **bold** <b>tag</b> :red[red] $x^2$ [link](http://evil.example/) www.evil.example "
           "me@evil.example `code` #1")
PAGES = ["", "runs", "compare", "latent", "generate", "denoise", "anomalies", "your_image", "train"]


@pytest.fixture(scope="module")
def names_server(tmp_path_factory):
    from aecore.store import runs
    from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from aecore.train import train_run

    root = tmp_path_factory.mktemp("names-browser") / "runs"
    root.mkdir()
    quick = TrainConfig(epochs=1, patience=0)
    for name, model in ((HOSTILE, ModelConfig("mlp_ae", 8, (64,))),
                        (f"{HOSTILE} vae", ModelConfig("vae", 2, (64,), recon_loss="bce"))):
        result = train_run(RunConfig(DataConfig(limit_train=1024), model, quick, name=name), device="cpu")
        # a stand-in for a trained model: a run this short is no_better, which the analysis pages leave out
        runs.save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")), root=root)
    proc, url = start_server(root)
    yield url
    stop_server(proc)


def test_a_hostile_run_name_is_shown_as_text_on_every_page(page, names_server):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    for path in PAGES:
        page.goto(f"{names_server}/{path}")
        wait_idle(page, 120_000)
        no_exception(page)
        main = page.locator('[data-testid="stMain"]')
        expect(main.locator('img[src*="track"]')).to_have_count(0)
        expect(main.locator('a[href*="evil"]')).to_have_count(0)
        expect(main.locator('[data-testid="stMarkdownContainer"] strong').filter(has_text="bold")).to_have_count(0)
        if path in ("runs", "compare", "your_image"):
            screenshot(page, f"hostile-name-{path}")
    assert not [u for u in requested if "track.png" in u or "evil.example" in u]

    page.goto(f"{names_server}/runs")
    wait_idle(page)
    heading = page.locator("h4").filter(has_text="track.png").first
    assert heading.inner_text().strip() == f"{HOSTILE} vae"  # the newest run comes first, its name as typed


@pytest.fixture(scope="module")
def accented_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("accented-browser") / "runs"
    root.mkdir()
    save_named_runs(root, (ACCENTED, "Plain name"))
    proc, url = start_server(root)
    yield url
    stop_server(proc)


ACCENTED = "Modèle de Zoé — 🧪"


def test_a_name_with_accents_dashes_and_emoji_labels_its_row_on_compare_as_written(page, accented_server):
    """The Compare grid's row labels are text beside the images, so the browser draws every glyph (a label drawn
    into the picture with a Latin-only font showed 'Mod▯le de Zo▯')."""
    page.goto(f"{accented_server}/compare")
    page.locator('[data-testid="stImage"]').first.wait_for(state="visible", timeout=120_000)
    wait_idle(page, 120_000)
    no_exception(page)
    labels = [t.strip() for t in page.locator('[data-testid="stMain"] [data-testid="stText"]').all_inner_texts()]
    assert labels[:3] == ["Original", "Plain name", ACCENTED] or labels[:3] == ["Original", ACCENTED, "Plain name"]
    screenshot(page, "compare-accented-name")
