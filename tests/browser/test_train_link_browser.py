"""What a person sees: a copied Train link opens the same set-up without training, a bad one says what it left out,
and a training job pauses, stays put, resumes and stops."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect

from studio import no_exception, screenshot, wait_idle
from test_train_browser import open_train_with_epochs, train_button


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def test_a_copied_link_opens_the_same_set_up_and_a_bad_one_says_what_it_left_out(page, server):
    open_train_with_epochs(page, server, 7)
    seed = page.get_by_role("spinbutton", name="Seed")
    seed.fill("42")
    seed.press("Enter")
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('seed=42') && location.search.includes('epochs=7')")
    link = page.url

    other = page.context.new_page()  # the link pasted into another tab: a new session
    other.goto(link)
    wait_idle(other)
    no_exception(other)
    expect(other.get_by_role("spinbutton", name="Epochs")).to_have_value("7")
    expect(other.get_by_role("spinbutton", name="Seed")).to_have_value("42")
    expect(other.get_by_text("Ready when you are")).to_have_count(1)  # nothing trains by itself
    assert "job" not in query(other)
    screenshot(other, "train-link")
    other.close()

    page.goto(f"{server}/train?epochs=abc&seed=-5&model=%3Cimg%20src%3Dx%3E&latent_dim=12")
    wait_idle(page)
    no_exception(page)
    expect(page.get_by_text("Some settings in this link could not be used", exact=False)).to_have_count(1)
    expect(page.get_by_text("<img src=x>", exact=False)).to_have_count(1)  # shown as written
    expect(page.get_by_text("seed must be between 0 and 2,147,483,647, not -5", exact=False)).to_have_count(1)
    expect(page.get_by_role("spinbutton", name="Code size")).to_have_value("12")  # the good one applies
    expect(page.get_by_role("spinbutton", name="Epochs")).not_to_have_value("abc")
    screenshot(page, "train-link-refused")


def batch_text(page) -> str:
    """'Epoch 2/30 · batch 217/282': finer than the bar, which moves in whole percents."""
    return page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first.inner_text()


def click_button(page, name: str) -> None:
    """Click the one button of that name, once the job view's redraw has left only one (for a moment while the
    fragment redraws, the old view's button and the new one are both on the page)."""
    button = page.get_by_role("button", name=name, exact=True)
    expect(button).to_have_count(1)
    button.click()


def test_a_job_pauses_keeps_its_place_resumes_and_stops(page, server):
    open_train_with_epochs(page, server, 30)
    train_button(page).click()
    page.get_by_text("· batch", exact=False).first.wait_for(timeout=60_000)
    click_button(page, "Pause")
    page.get_by_text("its place in training are kept", exact=False).wait_for()
    page.wait_for_timeout(1500)  # the batch under way lands
    held = batch_text(page)
    page.wait_for_timeout(3000)
    assert batch_text(page) == held and held.startswith("Paused ·")
    screenshot(page, "train-paused")
    click_button(page, "Resume")
    page.wait_for_function("([sel, held]) => { const el = document.querySelector(sel); "
                           "return el && !el.innerText.startsWith('Paused') && el.innerText !== held; }",
                           arg=['[data-testid="stMain"] [data-testid="stProgress"]', held])
    click_button(page, "Pause")
    page.get_by_text("its place in training are kept", exact=False).wait_for()
    click_button(page, "Stop")  # Stop works while paused
    page.get_by_text("Stopped, and nothing was saved", exact=False).wait_for(timeout=60_000)
    wait_idle(page)
    no_exception(page)
