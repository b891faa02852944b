"""What a person sees: train from the Train page, wander off mid-run, come back, reload, stop, finish."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from studio import TRAIN_BUTTON, no_exception, record_timing, screenshot, wait_idle

PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"] [role="progressbar"]'  # the Train page's bar, not the sidebar's


def progress_value(page) -> float:
    bar = page.locator(PROGRESS).first
    bar.wait_for(state="visible", timeout=30_000)
    return float(bar.get_attribute("aria-valuenow") or 0)


def train_button(page):
    return page.get_by_role("button", name=TRAIN_BUTTON)


def open_page(page, server: str, path: str) -> None:
    page.goto(f"{server}/{path}")
    wait_idle(page)
    no_exception(page)


def job_in_url(page) -> str:
    return parse_qs(urlparse(page.url).query).get("job", [""])[0]


def nav(page, title: str) -> float:
    """Click a sidebar link; returns seconds until the new page has rendered."""
    start = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    page.wait_for_function(f"() => document.title.length > 0 && location.pathname.endsWith('/{title.lower()}')")
    wait_idle(page)
    return time.perf_counter() - start


def open_train_with_epochs(page, server: str, epochs: int) -> None:
    """The Train page with its Epochs set, long enough to still be training while the test looks."""
    open_page(page, server, "train")
    field = page.get_by_role("spinbutton", name="Epochs")
    field.fill(str(epochs))
    field.press("Enter")
    wait_idle(page)


def test_every_page_renders(page, server):
    for path, name in (("", "home"), ("train", "train-empty"), ("runs", "runs-empty")):
        open_page(page, server, path)
        page.wait_for_selector("h1")
        screenshot(page, name)
    assert page.get_by_text("No saved runs", exact=False).count() or page.locator('[data-testid="stDataFrame"]').count()


def test_a_long_run_survives_clicks_page_switches_and_reloads_then_stops(page, server):
    open_train_with_epochs(page, server, 300)
    train_button(page).click()
    first = progress_value(page)
    page.wait_for_function(f"() => Number(document.querySelector('{PROGRESS}')?.getAttribute('aria-valuenow')) > {first}")
    job_id = job_in_url(page)
    assert job_id
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible")
    screenshot(page, "train-running")

    # another widget mid-run: the job carries on
    code = page.get_by_role("spinbutton", name="Code size")
    code.fill("8")
    code.press("Enter")
    wait_idle(page)
    before = progress_value(page)
    page.wait_for_function(f"() => Number(document.querySelector('{PROGRESS}')?.getAttribute('aria-valuenow')) > {before}")
    no_exception(page)

    # away to Runs and back: the same job, further along
    record_timing("page_switch_to_runs_s", nav(page, "Runs"))
    no_exception(page)
    record_timing("page_switch_to_train_s", nav(page, "Train"))
    assert job_in_url(page) == job_id
    assert progress_value(page) >= before

    # a reload (or a new tab with the link) rejoins from the URL
    page.reload()
    wait_idle(page)
    assert job_in_url(page) == job_id
    after_reload = progress_value(page)
    assert after_reload >= before
    page.wait_for_function(f"() => Number(document.querySelector('{PROGRESS}')?.getAttribute('aria-valuenow')) > {after_reload}")

    page.get_by_role("button", name=re.compile(r"Stop$")).click()
    page.get_by_text("Stopped", exact=False).first.wait_for(timeout=30_000)
    no_exception(page)
    screenshot(page, "train-stopped")


def test_default_run_from_click_to_first_update_and_to_done(page, server):
    open_page(page, server, "train")
    start = time.perf_counter()
    train_button(page).click()
    page.locator(PROGRESS).first.wait_for(state="visible")
    page.wait_for_function(f"() => Number(document.querySelector('{PROGRESS}')?.getAttribute('aria-valuenow')) > 0")
    record_timing("train_click_to_first_progress_s", time.perf_counter() - start)
    page.get_by_text("Finished in", exact=False).first.wait_for(timeout=180_000)
    record_timing("train_click_to_done_default_run_s", time.perf_counter() - start)
    no_exception(page)
    assert page.get_by_text("MSE", exact=False).count() > 0
    screenshot(page, "train-done")

    nav(page, "Runs")
    page.locator('[data-testid="stDataFrame"]').first.wait_for(state="visible")
    no_exception(page)
    screenshot(page, "runs")


def test_quick_clicks_on_train_start_one_job(page, server):
    open_train_with_epochs(page, server, 300)
    # six clicks 80 ms apart, as an impatient person makes them: each reaches the server as its own click
    train_button(page).evaluate("""b => new Promise(done => { let i = 0; const t = setInterval(() => {
        b.click(); if (++i === 6) { clearInterval(t); done(); } }, 80); })""")
    wait_idle(page)
    page.wait_for_timeout(2500)  # the sidebar polls every 2 s
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text("waiting in line", exact=False)).to_have_count(0)
    expect(sidebar.get_by_role("link", name="Watch it train")).to_have_count(1)
    page.locator(PROGRESS).first.wait_for(state="visible")
    assert train_button(page).is_disabled()
    page.get_by_text("exactly these settings is training now", exact=False).wait_for()
    no_exception(page)
    screenshot(page, "train-one-job-after-quick-clicks")
    page.get_by_role("button", name=re.compile(r"Stop$")).click()
    page.get_by_text("Stopped", exact=False).first.wait_for(timeout=30_000)
