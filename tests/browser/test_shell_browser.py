"""The app shell as the first visitor of a fresh server sees it: only the app's own navigation, from the first paint.

Streamlit draws an automatic navigation of file names (app, anomalies, compare, ...) for a folder named
`pages/` until the app's own `st.navigation` has run once in the server. Each test here starts its own
server, so the page it opens is that server's very first request; a MutationObserver installed before
any of the page's scripts records every sidebar navigation text that is ever on screen.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from studio import no_exception, screenshot, start_server, stop_server, wait_idle

TITLES = {"Home", "Train", "Runs", "Compare", "Latent space", "Generate", "Denoise", "Anomalies", "Your image",
          "Your pictures"}

RECORD_NAV = r"""
window.__navSeen = [];
window.__firstNavAt = null;
const record = () => {
    const nav = document.querySelector('[data-testid="stSidebarNav"]');
    if (!nav) return;
    if (window.__firstNavAt === null) window.__firstNavAt = performance.now();
    for (const a of nav.querySelectorAll('a')) {
        const text = a.innerText.trim().split('\n').pop().trim();  // a Material icon is drawn as its name
        if (text && !window.__navSeen.includes(text)) window.__navSeen.push(text);
    }
};
new MutationObserver(record).observe(document, {childList: true, subtree: true, characterData: true});
"""


@pytest.fixture
def fresh_server(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    proc, url = start_server(runs)
    yield url
    stop_server(proc)


def open_first(page, url: str, shot: str) -> list[str]:
    """Open `url` with the recorder installed; returns every sidebar navigation text seen until the run ended."""
    page.add_init_script(RECORD_NAV)
    page.goto(url, wait_until="commit")
    page.wait_for_selector('[data-testid="stApp"]', state="attached")
    page.screenshot(path=str(screenshot_path(shot)))  # the first paint, before the script run has ended
    page.wait_for_selector('[data-testid="stSidebarNav"]')
    page.screenshot(path=str(screenshot_path(f"{shot}-first-nav")))  # the first navigation ever drawn
    wait_idle(page)
    no_exception(page)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    expect(page.locator('[data-testid="stSidebarNav"]')).to_be_visible()
    screenshot(page, f"{shot}-settled")
    return page.evaluate("() => window.__navSeen")


def screenshot_path(name: str):
    from studio import SHOTS

    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS / f"{name}.png"


def assert_only_app_navigation(seen: list[str]) -> None:
    assert seen, "no sidebar navigation was ever shown"
    assert set(seen) <= TITLES, f"navigation other than the app's was shown: {sorted(set(seen) - TITLES)}"


def test_the_first_visit_to_a_fresh_server_never_shows_file_name_navigation(page, fresh_server):
    seen = open_first(page, fresh_server, "shell-first-paint")
    assert_only_app_navigation(seen)
    assert set(seen) == TITLES
    expect(page.get_by_role("heading", name="Autoencoder Studio", level=1)).to_be_visible()


@pytest.mark.parametrize(("path", "title", "says"), [
    ("latent", "Latent space", "no saved model"),
    ("train?job=0123abcd", "Train", "not on this server"),  # the query reached the page: it looked the job up
])
def test_a_deep_link_as_the_first_request_opens_its_page_inside_the_app(page, fresh_server, path, title, says):
    seen = open_first(page, f"{fresh_server}/{path}", f"shell-first-{path.split('?')[0]}")
    assert_only_app_navigation(seen)
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.get_by_text(says, exact=False)).to_be_visible()
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_role("link", name=title)).to_have_attribute("aria-current", "page")
    assert page.url.split("?")[0].endswith("/" + path.split("?")[0])
