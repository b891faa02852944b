"""What a person sees on Compare and Latent space: real saved runs, the charts drawn, a map point clicked.

A server of its own gets a run store with small real runs: a 2-number VAE and an 8-number AE on the bundled
FashionMNIST sample and, where `../shared/datasets` holds the full FashionMNIST, an AE trained briefly on it,
whose 10,000-image test split lets the Latent space page map 5,000 points. The time each page takes to show
its main figure goes to artifacts/timings.json.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from studio import ROOT, no_exception, record_timing, screenshot, start_server, stop_server, wait_idle

SHARED = ROOT.parent / "shared" / "datasets"
FIGURE_TIMEOUT = 240_000  # ms; scoring 10,000 images twice or mapping 5,000 codes on a busy 2-core machine
POINT_JS = """([trace, point]) => {
    const gd = document.querySelector('.st-key-latent_scatter .js-plotly-plot');
    const layout = gd._fullLayout, box = gd.getBoundingClientRect(), data = gd._fullData[trace];
    return [box.left + layout.xaxis._offset + layout.xaxis.l2p(data.x[point]),
            box.top + layout.yaxis._offset + layout.yaxis.l2p(data.y[point])];
}"""


@pytest.fixture
def page(page):
    """A tall window, so that a screenshot holds the whole page (Streamlit scrolls inside it)."""
    page.set_viewport_size({"width": 1400, "height": 2800})
    return page


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(url, whether a full-FashionMNIST run is among the runs) of a server with real saved runs."""
    from aecore.store import runs
    from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from aecore.train import train_run

    root = tmp_path_factory.mktemp("analysis-browser") / "runs"
    root.mkdir()
    full = (SHARED / "FashionMNIST" / "raw").is_dir()
    sample = DataConfig(limit_train=2048)
    made = [("VAE 2-d", sample, ModelConfig("vae", 2, (256,), recon_loss="bce")),
            ("AE 8-d", sample, ModelConfig("mlp_ae", 8, (128,)))]
    if full:  # the full test split: 10,000 images, so 5,000 of them can be mapped
        made.append(("AE full FashionMNIST", DataConfig(name="fashion-mnist", limit_train=2048),
                     ModelConfig("mlp_ae", 16, (128,))))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECORE_DATA_DIR", str(SHARED))
        for name, data, model in made:  # saved in this order, so the last is the newest
            result = train_run(RunConfig(data, model, TrainConfig(epochs=3, patience=0), name=name), device="cpu")
            runs.save_run(result, root=root)
    proc, url = start_server(root, {"AECORE_DATA_DIR": str(SHARED)})
    yield url, full
    stop_server(proc)


def open_page(page, url: str, path: str) -> float:
    """Open a page; returns the seconds until its script run has finished."""
    start = time.perf_counter()
    page.goto(f"{url}/{path}")
    wait_idle(page, FIGURE_TIMEOUT)
    no_exception(page)
    return time.perf_counter() - start


def choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.locator('[role="option"]').filter(has_text=option).first.click()
    wait_idle(page, FIGURE_TIMEOUT)
    no_exception(page)


def map_drawn(page) -> None:
    page.wait_for_function("""() => {
        const gd = document.querySelector('.st-key-latent_scatter .js-plotly-plot');
        return gd && gd._fullData && gd._fullData.length > 0 && gd._fullLayout.xaxis;
    }""", timeout=FIGURE_TIMEOUT)


def images_loaded(page, at_least: int) -> None:
    page.wait_for_function("""n => { const imgs = [...document.querySelectorAll('[data-testid="stImage"] img')];
        return imgs.length >= n && imgs.every(i => i.complete && i.naturalHeight > 0); }""", arg=at_least)


def click_point(page, trace: int, point: int) -> None:
    page.wait_for_timeout(500)  # let the map settle after drawing
    x, y = page.evaluate(POINT_JS, [trace, point])
    page.mouse.click(x, y)
    wait_idle(page, FIGURE_TIMEOUT)
    no_exception(page)


def test_compare_shows_images_scores_and_charts(page, studio):
    url, full = studio
    start = time.perf_counter()
    page.goto(f"{url}/compare")
    page.locator('[data-testid="stImage"]').first.wait_for(state="visible", timeout=FIGURE_TIMEOUT)
    grid_seconds = time.perf_counter() - start
    wait_idle(page, FIGURE_TIMEOUT)
    page.locator(".st-key-compare_losses .js-plotly-plot").wait_for(state="visible")
    all_seconds = time.perf_counter() - start
    no_exception(page)
    if full:  # the two newest: one on the full FashionMNIST, one on the sample, both shown the full test split
        expect(page.get_by_text("learned from different images", exact=False)).to_have_count(1)
        record_timing("compare_two_runs_10000_images_grid_s", grid_seconds)
        record_timing("compare_two_runs_10000_images_all_s", all_seconds)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    expect(page.locator(".st-key-compare_classes .js-plotly-plot")).to_have_count(1)
    screenshot(page, "compare")

    rows = page.locator('[data-testid="stImage"] img').count()  # the originals and one row per model
    page.get_by_text("Show differences").click()
    page.get_by_text("dark means the model got that pixel right", exact=False).wait_for(state="visible")
    wait_idle(page, FIGURE_TIMEOUT)
    no_exception(page)
    page.wait_for_function("n => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                           ".filter(img => img.complete && img.naturalHeight > 0).length > n", arg=rows)
    screenshot(page, "compare-differences")


def test_latent_map_click_shows_the_image_and_a_second_click_the_walk(page, studio):
    url, full = studio
    start = time.perf_counter()
    page.goto(f"{url}/latent")
    map_drawn(page)
    seconds = time.perf_counter() - start
    wait_idle(page, FIGURE_TIMEOUT)
    no_exception(page)
    if full:  # the newest run is the full-FashionMNIST one: 5,000 points by PCA, the defaults
        assert page.get_by_role("spinbutton", name="Images to show").input_value() == "5000"
        assert page.evaluate("() => document.querySelector('.st-key-latent_scatter .js-plotly-plot')"
                             "._fullData.reduce((n, t) => n + t._length, 0)") == 5000
        record_timing("latent_pca_5000_points_map_s", seconds)
    screenshot(page, "latent-pca")

    start = time.perf_counter()
    click_point(page, 0, 0)
    heading = page.locator("h3").filter(has_text=re.compile(r"^Image \d+: "))
    heading.first.wait_for(state="visible")
    record_timing("latent_click_to_detail_s", time.perf_counter() - start)
    page.get_by_text("Redrawn from its code").wait_for(state="visible")
    page.get_by_text("Click a second point", exact=False).wait_for(state="visible")
    images_loaded(page, 2 + 8)  # the image, its redrawing, 8 neighbours
    screenshot(page, "latent-picked")

    click_point(page, 2, 0)
    page.locator("h3").filter(has_text=re.compile(r"^From image \d+ .* to image \d+")).first.wait_for(state="visible")
    images_loaded(page, 2 + 8 + 1)  # and the walk
    screenshot(page, "latent-walk")


def test_latent_map_of_a_two_number_code_is_drawn_as_it_is(page, studio):
    url, _ = studio
    open_page(page, url, "latent")
    choose(page, "Model", "VAE 2-d")
    page.get_by_text("so the map shows them as they are", exact=False).wait_for(state="visible")
    map_drawn(page)
    page.locator(".st-key-latent_scatter").get_by_text("Code number 1").first.wait_for(state="visible")
    screenshot(page, "latent-identity")
