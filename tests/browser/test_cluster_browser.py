"""The Train page with jobs on Ray (a server with AECORE_RAY_ADDRESS=local): the same progress, the same saved run."""

from __future__ import annotations

import re
import time

import pytest

from studio import TRAIN_BUTTON, no_exception, record_timing, screenshot, start_server, stop_server, wait_idle

PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"] [role="progressbar"]'


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory):
    """A server of its own whose jobs train on a local Ray it starts at the first Train."""
    pytest.importorskip("ray")
    runs = tmp_path_factory.mktemp("browser-ray") / "runs"
    runs.mkdir()
    proc, url = start_server(runs, {"AECORE_RAY_ADDRESS": "local"})
    yield url
    stop_server(proc)


def test_the_train_page_follows_a_ray_job_to_its_saved_run(page, ray_server):
    page.goto(f"{ray_server}/train")
    wait_idle(page)
    start = time.perf_counter()
    page.get_by_role("button", name=TRAIN_BUTTON).click()
    page.wait_for_function(f"() => Number(document.querySelector('{PROGRESS}')?.getAttribute('aria-valuenow')) > 0",
                           timeout=120_000)  # Ray starts first, then a worker imports torch
    record_timing("ray_train_click_to_first_progress_s", time.perf_counter() - start)
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible")
    assert page.get_by_text("Images / s").count() > 0
    no_exception(page)
    screenshot(page, "train-ray-running")

    page.get_by_text("Finished in", exact=False).first.wait_for(timeout=180_000)
    record_timing("ray_train_click_to_done_default_run_s", time.perf_counter() - start)
    no_exception(page)
    assert page.get_by_text("Saved as", exact=False).count() > 0 and page.get_by_text("MSE", exact=False).count() > 0
    page.get_by_role("img", name=re.compile("reconstructions")).first.wait_for(state="visible")  # the preview strip
    screenshot(page, "train-ray-done")

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Runs").click()
    wait_idle(page)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible")  # saved in the server's own store
    no_exception(page)
    screenshot(page, "runs-after-ray")


def test_a_umap_of_the_ray_run_is_drawn_on_the_cluster(page, ray_server):
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.goto(f"{ray_server}/latent")
    wait_idle(page, 120_000)
    page.get_by_text("UMAP (clusters, layout)", exact=True).click()
    drawing = page.get_by_text(re.compile(r"^Drawing the map: UMAP"))
    drawing.first.wait_for(timeout=60_000)
    drawing.first.wait_for(state="detached", timeout=240_000)  # a Ray worker starts, then loads UMAP
    wait_idle(page, 120_000)
    no_exception(page)
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.wait_for(state="visible")
    assert page.get_by_text("could not", exact=False).count() == 0
    screenshot(page, "latent-ray-umap")
