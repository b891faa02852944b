"""The server only serves: while one visitor's UMAP is computed (in a worker process), a second visitor opens
Runs and Train at once, and the first visitor's progress keeps moving.

A server of its own gets one small real run; the map uses 2,000 test images, as a class would.
"""

from __future__ import annotations

import re
import time

import pytest

from studio import save_small_run, no_exception, record_timing, screenshot, start_server, stop_server, wait_idle

TIMEOUT = 240_000  # ms; a fresh worker compiles UMAP's numba code once when no cache is kept yet
POINTS = 2000
OPEN_SECONDS = 2.0  # a page opens this fast, or about as fast as on the idle server (Train takes 2 s itself here)
READY = {"runs": lambda p: p.get_by_role("heading", name="Runs").first,
         "train": lambda p: p.get_by_role("button", name=re.compile(r"^Train"))}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving-browser") / "runs"
    root.mkdir()
    save_small_run(root)
    # an empty numba cache of its own: the first UMAP compiles, as on a new computer (the longest first map), so
    # it is still running once the second visitor's pages have opened (with UMAP's code kept it takes 3-4 s)
    proc, url = start_server(root, {"NUMBA_CACHE_DIR": str(root.parent / "numba")})
    yield url
    stop_server(proc)


def opened_in(browser, url: str, path: str, ready) -> float:
    """Seconds a fresh visitor waits for `path` to be drawn, `ready(page)` saying when."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    started = time.monotonic()
    page.goto(f"{url}/{path}")
    ready(page).wait_for(timeout=60_000)
    wait_idle(page)
    took = time.monotonic() - started
    no_exception(page)
    context.close()
    return took


def test_a_second_visitor_is_served_while_a_umap_is_computed(browser, page, studio):
    for path, ready in READY.items():
        opened_in(browser, studio, path, ready)  # a page's first visit imports what it needs, once per server
    idle = {path: opened_in(browser, studio, path, ready) for path, ready in READY.items()}
    record_timing("runs_open_idle_s", idle["runs"])
    record_timing("train_open_idle_s", idle["train"])
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.goto(f"{studio}/latent")
    wait_idle(page, TIMEOUT)
    count = page.get_by_role("spinbutton", name="Images to show")
    count.fill(str(POINTS))
    count.press("Enter")
    wait_idle(page, TIMEOUT)
    page.get_by_text("UMAP (clusters, layout)", exact=True).click()
    progress = page.get_by_text(re.compile(r"^Drawing the map: UMAP"))
    progress.wait_for(timeout=TIMEOUT)

    busy = {path: opened_in(browser, studio, path, ready) for path, ready in READY.items()}
    record_timing("runs_open_during_umap_s", busy["runs"])
    record_timing("train_open_during_umap_s", busy["train"])
    assert all(busy[p] <= max(OPEN_SECONDS, 1.5 * idle[p] + 0.5) for p in READY), (busy, idle)  # as if idle

    changes: list[tuple[float, str]] = []  # when the map's own words (not the seconds counter) changed
    while progress.count():
        try:
            words = progress.first.inner_text(timeout=1_000).rsplit(" · ", 1)[0]
        except Exception:  # the bar went as the map arrived
            break
        if not changes or words != changes[-1][1]:
            changes.append((time.monotonic(), words))
            if words.endswith(" left") and not any(w.endswith(" left") for _, w in changes[:-1]):
                screenshot(page, "serving-umap-time-left")
        time.sleep(0.2)
    steps = [(t, w) for t, w in changes if " step " in w]
    gaps = [b[0] - a[0] for a, b in zip(steps, steps[1:])]
    assert len(steps) >= 3 and max(gaps) <= 2.0, changes
    assert any(re.search(r", about \d+ s left$", w) for _, w in steps), changes  # once its pace is known
    screenshot(page, "serving-umap-done")
    no_exception(page)
