"""Fixtures: a real `streamlit run app.py` on a free loopback port, and Debian's headless Chromium via Playwright."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio import CHROMIUM, CHROMIUM_ARGS, screenshot, start_server, stop_server


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
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a page may still be drawing its last parts after the script looks idle
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's outcome on the test item, so the page fixture can tell that a test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    """A fresh browser context per test; when the test fails, what the page showed is kept as a screenshot."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        try:
            screenshot(pg, f"failed-{request.node.name}")
        except Exception as err:  # the page may be gone; the test's own error is what matters
            print(f"no failure screenshot: {err}")
    context.close()


