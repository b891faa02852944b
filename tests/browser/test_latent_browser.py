"""The Latent space page's maps as a person uses them: UMAP, images on the map, a box selection and its
isolated map, hiding classes, the 3-D picker, and both downloads (CSV from the server, PNG from the modebar).

A server of its own gets one small real run (an 8-number AE on the bundled FashionMNIST sample); maps use
400 images so t-SNE and UMAP take seconds. Screenshots go to artifacts/screenshots/latent-*.png.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from studio import save_small_run, SHOTS, no_exception, screenshot, start_server, stop_server, wait_idle

TIMEOUT = 240_000  # ms; UMAP compiles itself on a fresh server's first map, on a busy 2-core machine
POINTS = 400
CHART = ".st-key-latent_scatter .js-plotly-plot"
COUNT_JS = f"() => document.querySelector('{CHART}')._fullData.reduce((n, t) => n + (t.visible === true ? t._length : 0), 0)"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("latent-browser") / "runs"
    root.mkdir()
    save_small_run(root)
    proc, url = start_server(root)
    yield url
    stop_server(proc)


@pytest.fixture
def page(page):
    page.set_viewport_size({"width": 1400, "height": 2400})
    return page


def settle(page) -> None:
    wait_idle(page, TIMEOUT)
    no_exception(page)


def opened(page, url: str) -> None:
    page.goto(f"{url}/latent")
    settle(page)
    count = page.get_by_role("spinbutton", name="Images to show")
    count.fill(str(POINTS))
    count.press("Enter")
    settle(page)
    map_drawn(page, POINTS)


def map_drawn(page, points: int | None = None) -> None:
    page.wait_for_function(f"""n => {{ const gd = document.querySelector('{CHART}');
        return gd && gd._fullData && gd._fullData.length > 0 && (n === null || ({COUNT_JS})() === n); }}""",
                           arg=points, timeout=TIMEOUT)
    page.wait_for_timeout(500)  # let the map settle after drawing


def chart_box(page) -> dict:
    return page.evaluate(f"""() => {{ const gd = document.querySelector('{CHART}'), l = gd._fullLayout;
        const r = gd.getBoundingClientRect();
        return {{left: r.left + l._size.l, top: r.top + l._size.t, width: l._size.w, height: l._size.h}}; }}""")


def test_umap_with_its_settings_draws_a_map(page, studio):
    opened(page, studio)
    page.get_by_text("UMAP (clusters, layout)", exact=True).click()
    expect(page.get_by_text("Minimum distance")).to_be_visible()
    progress = page.get_by_text(re.compile(r"^Drawing the map: "))
    try:  # a warm server may finish before the bar is seen
        progress.wait_for(state="visible", timeout=15_000)
        screenshot(page, "latent-umap-progress")
    except PlaywrightTimeout:
        pass
    expect(page.locator(".st-key-latent_scatter").get_by_text("UMAP 1")).to_be_visible(timeout=TIMEOUT)
    settle(page)
    map_drawn(page, POINTS)
    screenshot(page, "latent-umap")


def test_images_on_the_map(page, studio):
    opened(page, studio)
    page.get_by_text("Images on the map").click()
    settle(page)
    page.wait_for_function(f"() => document.querySelectorAll('{CHART} .layer-above image').length >= 20",
                           timeout=TIMEOUT)
    expect(page.get_by_text("drawn as their images", exact=False)).to_be_visible()
    screenshot(page, "latent-thumbnails")


def test_a_box_selection_shows_its_images_and_isolates(page, studio):
    opened(page, studio)
    page.locator(CHART).hover()
    page.locator(f'{CHART} .modebar-btn[data-title="Box Select"]').click()
    box = chart_box(page)
    page.mouse.move(box["left"] + box["width"] * 0.3, box["top"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["left"] + box["width"] * 0.6, box["top"] + box["height"] * 0.7, steps=8)
    page.mouse.up()
    settle(page)
    heading = page.locator("h3").filter(has_text=re.compile(r"^\d+ selected images"))
    heading.first.wait_for(state="visible", timeout=TIMEOUT)
    selected = int(heading.first.inner_text().split()[0])
    assert selected > 10
    expect(page.locator(".st-key-latent_mix .js-plotly-plot")).to_be_visible()
    screenshot(page, "latent-selection")
    page.get_by_role("button", name="Isolate: map these on their own").click()
    settle(page)
    expect(page.get_by_text(f"only the {selected:,} selected images", exact=False)).to_be_visible()
    map_drawn(page, selected)
    screenshot(page, "latent-isolated")
    page.get_by_role("button", name="Back to the whole map").click()
    settle(page)
    map_drawn(page, POINTS)


def test_hiding_classes_by_filter_and_legend(page, studio):
    opened(page, studio)
    pills = page.locator('[data-testid="stButtonGroup"]').filter(has_text="T-shirt/top")
    pills.get_by_text("T-shirt/top", exact=True).click()
    settle(page)
    map_drawn(page)
    after_filter = page.evaluate(COUNT_JS)
    assert 0 < after_filter < POINTS
    page.locator(f"{CHART} .legend .traces").first.click()  # a legend click hides that class in the browser
    page.wait_for_function(f"n => ({COUNT_JS})() < n", arg=after_filter)
    screenshot(page, "latent-classes-hidden")


def test_a_3d_map_picks_from_a_list_and_walks(page, studio):
    opened(page, studio)
    page.get_by_text("3-D", exact=True).click()
    settle(page)
    map_drawn(page)
    for _ in range(2):
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Pick an image").click()
        page.locator('[role="option"]').nth(2 + _ * 3).click()
        settle(page)
    page.locator("h3").filter(has_text=re.compile(r"^From image \d+ .* to image \d+")).first.wait_for(state="visible")
    screenshot(page, "latent-3d-picked")


def test_the_map_downloads_as_csv_and_png(page, studio):
    opened(page, studio)
    with page.expect_download() as got:
        page.get_by_role("button", name="Download the map (CSV)").click()
    rows = list(csv.reader(io.StringIO(open(got.value.path()).read())))
    assert rows[0][:4] == ["index", "class", "map_1", "map_2"] and rows[0][-1] == "code_8"
    assert len(rows) == POINTS + 1
    page.locator(CHART).hover()
    with page.expect_download() as got:
        page.locator(f'{CHART} .modebar-btn[data-title^="Download plot"]').click()
    SHOTS.mkdir(parents=True, exist_ok=True)
    target = SHOTS / "latent-export-download.png"
    got.value.save_as(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 10_000
    screenshot(page, "latent-export")
