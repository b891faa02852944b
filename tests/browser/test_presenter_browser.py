"""Presenter mode and lesson links in a real browser: a projector's view of Train, and a link showing one control."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from studio import TRAIN_BUTTON, no_exception, screenshot, wait_idle


def code_size(page):
    return page.get_by_role("spinbutton", name="Code size")


def widget_labels(page) -> set[str]:
    """The labels of the widgets the main area shows."""
    texts = page.locator('[data-testid="stMain"] [data-testid="stWidgetLabel"]').all_inner_texts()
    return {t.strip() for t in texts if t.strip()}


def side_by_side(chart, strip, seconds: float = 30.0):
    """The two boxes once the chart stands left of the strip and the strip is over 550 px wide, else None.
    Asked again while the page redraws: between two drawings an element may have no box for a moment."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        c, s = chart.bounding_box(), strip.bounding_box()
        if c and s and c["x"] + c["width"] <= s["x"] + 1 and s["width"] > 550:  # the pictures large at 1400 px
            return c, s
        time.sleep(0.25)
    return None


def root_font_px(page) -> float:
    return float(page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)"))


def test_presenter_mode_makes_the_training_the_page(server, page):
    page.goto(f"{server}/train")
    wait_idle(page)
    normal = root_font_px(page)
    expect(code_size(page)).to_be_visible()  # settings beside the live column
    page.locator('[data-testid="stSidebar"]').get_by_text("Presenter mode").click()  # the sidebar's switch
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]present=true"))  # the link holds the mode
    page.wait_for_function(f"() => parseFloat(getComputedStyle(document.documentElement).fontSize) >= {1.25 * normal}")
    expect(code_size(page)).to_be_hidden()  # folded into the Settings expander
    page.get_by_role("button", name=TRAIN_BUTTON).click()
    main = page.locator('[data-testid="stMain"]')
    chart = main.locator('[data-testid="stPlotlyChart"]').first
    strip = main.get_by_role("img", name=re.compile("reconstructions of them after each epoch"))
    expect(strip).to_be_visible(timeout=120_000)
    expect(chart).to_be_visible(timeout=120_000)
    boxes = side_by_side(chart, strip)
    assert boxes, "the loss chart and the pictures never stood side by side, the pictures over 550 px wide"
    screenshot(page, "presenter-train")
    no_exception(page)

    page.goto(f"{server}/compare?present=true")  # a link opens in presenter mode on any page
    wait_idle(page)
    assert root_font_px(page) >= 1.25 * normal
    expect(page.get_by_role("switch", name="Presenter mode")).to_be_checked()


def test_a_lesson_link_shows_only_the_controls_it_names(server, page):
    page.goto(f"{server}/train?preset=quick-demo&latent_dim=8&epochs=2&show=latent_dim")
    wait_idle(page)
    expect(code_size(page)).to_have_value("8")
    assert widget_labels(page) == {"Code size"}, widget_labels(page)  # no Preset, Dataset, Epochs, Name, …
    expect(page.get_by_text("This lesson's link sets the other settings.")).to_be_visible()
    expect(page.get_by_text("Make a lesson link")).to_have_count(0)
    screenshot(page, "lesson-link")
    code_size(page).fill("4")
    code_size(page).press("Enter")
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"latent_dim=4"))
    expect(page).to_have_url(re.compile(r"show=latent_dim"))  # a copied link keeps the lesson
    expect(page).to_have_url(re.compile(r"epochs=2"))  # and the hidden settings as the link set them
    no_exception(page)


def test_the_lesson_link_maker_writes_a_link_that_opens_the_lesson(server, page):
    page.goto(f"{server}/train?preset=fashion-mlp")
    wait_idle(page)
    page.get_by_text("Make a lesson link").click()
    link = page.locator('[data-testid="stCode"]').filter(has_text="show=").inner_text().strip()
    assert "show=latent_dim" in link and "preset=fashion-mlp" in link
    page.goto(link)
    wait_idle(page)
    expect(code_size(page)).to_have_value("64")
    assert widget_labels(page) == {"Code size"}
