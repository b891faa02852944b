"""Draw your own: strokes on Your image's canvas, made with the mouse, are redrawn by the model and placed on its map."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import expect

from aecore.presets import get_preset
from aecore.store import runs
from aecore.train import train_run
from studio import no_exception, screenshot, start_server, stop_server, wait_idle

REDRAWN = "The model's redrawing of it"


@pytest.fixture(scope="module")
def drawing_server(tmp_path_factory):
    """An app server holding one real digit model (the smallest classic, three epochs of the MNIST sample)."""
    root = tmp_path_factory.mktemp("drawing-browser") / "runs"
    cfg = get_preset("mnist-64")
    result = train_run(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=3)), "cpu")
    assert result.history.ok
    runs.save_run(result, root=root)
    proc, url = start_server(root)
    yield url
    stop_server(proc)


def stroke(page, points: list[tuple[float, float]]) -> None:
    """One pen stroke through `points`, as fractions of the canvas, with real mouse moves."""
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    page.wait_for_timeout(500)  # Fabric.js listens once the component has mounted, a moment after it shows
    box = canvas.bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(at, at[1:]):
        for i in range(1, 9):
            page.mouse.move(x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8)
    page.mouse.up()


STAR = """() => {
    const traces = document.querySelectorAll('[data-testid="stPlotlyChart"] .scatterlayer .trace');
    const point = traces.length ? traces[traces.length - 1].querySelector('path.point') : null;
    return point ? point.getAttribute('transform') : '';
}"""


def star(page) -> str:
    """Where the map draws the picture's star (the transform of the last trace's point), once the map has drawn
    it: between two script runs the chart may for a moment have no traces."""
    page.wait_for_function(STAR, timeout=60_000)
    return page.evaluate(STAR)


def test_drawing_updates_the_redrawing_and_the_point_on_the_map(drawing_server, page):
    page.goto(f"{drawing_server}/your_image")
    wait_idle(page)
    page.get_by_text("Draw one").click()
    wait_idle(page)
    expect(page.get_by_role("img", name=REDRAWN)).to_have_count(0)  # nothing drawn: nothing to redraw
    stroke(page, [(0.5, 0.15), (0.5, 0.85)])  # a one
    redrawn = page.get_by_role("img", name=REDRAWN)
    expect(redrawn).to_have_count(1, timeout=60_000)
    expect(page.get_by_text("Your picture")).to_be_visible()  # the map's legend: the drawing's own point
    expect(page.get_by_text("for this model: it redraws")).to_be_visible()
    wait_idle(page)
    first_src, first_star = redrawn.get_attribute("src"), star(page)
    assert first_star
    screenshot(page, "drawing-one")
    stroke(page, [(0.2, 0.3), (0.8, 0.3), (0.35, 0.85)])  # on to a seven
    expect(redrawn).not_to_have_attribute("src", first_src, timeout=60_000)
    wait_idle(page)
    page.wait_for_function(f"() => {{ const t = document.querySelectorAll('[data-testid=\"stPlotlyChart\"] "
                           f".scatterlayer .trace'); const p = t[t.length - 1].querySelector('path.point'); "
                           f"return p && p.getAttribute('transform') !== {first_star!r}; }}", timeout=60_000)
    page.get_by_text("Closest test pictures").first.scroll_into_view_if_needed()
    screenshot(page, "drawing-seven")
    no_exception(page)
