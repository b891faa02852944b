"""Nothing a person reads is cut short at 1400 px: preset titles with their measured times, the loss choice, run
pickers, and every column of the Runs and Compare tables (the last ones were scrolled out of sight)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from studio import no_exception, save_named_runs, screenshot, start_server, stop_server, wait_idle

NAMES = ("Modèle de Zoé — 🧪", "Convolutional VAE · 128 numbers 12")  # an accented one, the longest default name

CUT_SHORT = """() => {
    // a text is cut short when its own box reaches past the box of the nearest ancestor that clips it
    const cut = [];
    for (const el of document.querySelectorAll('[data-testid="stMain"] *, [role="listbox"] *')) {
        if (el.children.length || !el.textContent.trim() || el.closest('[data-testid="stDataFrame"], svg')) continue;
        const range = document.createRange();
        range.selectNodeContents(el);
        const text = range.getBoundingClientRect();
        if (!text.width) continue;
        for (let up = el, i = 0; up && i < 8; up = up.parentElement, i++) {
            const style = getComputedStyle(up);
            if (['hidden', 'clip', 'auto', 'scroll'].includes(style.overflowX) || style.textOverflow === 'ellipsis') {
                const box = up.getBoundingClientRect();
                if (text.right > box.right + 1 || el.scrollWidth > el.clientWidth + 1) cut.push(el.textContent.trim());
                break;
            }
        }
    }
    for (const input of document.querySelectorAll('[data-testid="stMain"] input')) {
        if (input.value && input.scrollWidth > input.clientWidth + 1) cut.push(input.value);  // a picker's choice
    }
    return cut;
}"""
SCROLLED = """() => Array.from(document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
    .filter(s => s.getBoundingClientRect().width > 0).map(s => s.scrollWidth - s.clientWidth)"""


@pytest.fixture(scope="module")
def fit_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("fit-browser") / "runs"
    save_named_runs(root, NAMES)
    proc, url = start_server(root)
    yield url
    stop_server(proc)


def cut_short(page) -> list[str]:
    return page.evaluate(CUT_SHORT)


def open_list(page, name: str) -> None:
    """Open a picker's list of options; a click that lands while the page redraws is tried again."""
    for _ in range(5):
        page.get_by_role("combobox", name=name).click()
        try:
            expect(page.get_by_role("option").first).to_be_visible(timeout=3_000)
            return
        except AssertionError:
            page.keyboard.press("Escape")
            wait_idle(page)
    raise AssertionError(f"the {name} list did not open")


def choose_longest_loss(page) -> None:
    expect(page.get_by_text("Measuring how fast")).to_have_count(0, timeout=120_000)  # its end redraws the page
    wait_idle(page)
    page.get_by_text("Sharper results").click()
    expect(page.get_by_role("combobox", name="Loss")).to_be_visible()
    page.wait_for_timeout(500)  # the expander opens with an animation
    open_list(page, "Loss")
    page.get_by_role("option", name="Absolute pixel error + sharpness (L1 + SSIM)").click()
    wait_idle(page)


def test_the_check_finds_text_that_is_cut_short(fit_server, page):
    """The same check on a narrower window does find the loss cut short, so a pass at 1400 px means something."""
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"{fit_server}/train?preset=fashion-cnn")
    wait_idle(page)
    choose_longest_loss(page)
    assert any(t.startswith("Absolute pixel error") for t in cut_short(page)), cut_short(page)


def test_preset_titles_and_the_loss_choice_fit_at_1400px(fit_server, page):
    page.goto(f"{fit_server}/train?preset=fashion-cnn")
    page.get_by_role("button", name=re.compile(r"Train · about .+ here")).wait_for(timeout=120_000)
    choose_longest_loss(page)  # the longest loss, chosen: drawn in its picker
    assert cut_short(page) == []
    presets = page.get_by_role("combobox", name="Preset")
    assert re.fullmatch(r"FashionMNIST convolutional AE · about .+ here", presets.input_value())
    open_list(page, "Preset")  # the list of every preset title with its time
    options = page.get_by_role("option").all_inner_texts()
    assert len([o for o in options if re.search(r" · about .+ here$", o)]) == len(options) - 1, options
    assert cut_short(page) == [], options
    screenshot(page, "fit-presets")
    page.keyboard.press("Escape")
    no_exception(page)


@pytest.mark.parametrize("path", ["runs", "compare", "denoise"])
def test_tables_and_pickers_fit_at_1400px(fit_server, page, path):
    page.goto(f"{fit_server}/{path}")
    page.locator('[data-testid="stDataFrame"], [data-testid="stImage"]').first.wait_for(timeout=120_000)
    wait_idle(page)
    for expander in page.get_by_text("Details: every score").all():
        expander.click()
    wait_idle(page)
    assert cut_short(page) == []
    assert all(extra <= 1 for extra in page.evaluate(SCROLLED))  # every column in view: none scrolled out
    screenshot(page, f"fit-{path}")
    no_exception(page)


def test_a_fresh_servers_preset_gains_its_time_once_measured(tmp_path, page):
    """The chosen preset's title kept its first text after the measurement ended (streamlit/streamlit#13788)."""
    root = tmp_path / "runs"
    proc, url = start_server(root, {"AECORE_CACHE_DIR": str(tmp_path / "fresh-cache")})  # nothing measured yet
    try:
        page.goto(f"{url}/train?preset=fashion-cnn")
        wait_idle(page)
        presets = page.get_by_role("combobox", name="Preset")
        assert presets.input_value() == "FashionMNIST convolutional AE"
        expect(page.get_by_text("Measuring how fast")).to_have_count(0, timeout=120_000)
        expect(presets).to_have_value(re.compile(r"FashionMNIST convolutional AE · about .+ here"))
        no_exception(page)
    finally:
        stop_server(proc)
