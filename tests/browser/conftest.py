"""Fixtures: a real `streamlit run app.py` on a free loopback port, and Debian's headless Chromium via Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One app server for the browser tests, with its own empty run store."""
    runs = tmp_path_factory.mktemp("browser") / "runs"
    runs.mkdir()
    proc, url = start_server(runs)
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


