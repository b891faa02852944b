"""AppTest helpers the page tests share: open a page inside the app shell, read text out of elements."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
WAITING = ("Drawing the map", "Scoring every test image", "Training the detector", "Fitting the mixture")  # ui.waiting labels


def open_page(page: str, state: dict | None = None, query: dict | None = None) -> AppTest:
    """Run app.py switched to `page`, with session state and query parameters set first; no exception allowed."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.query_params.update(query or {})
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def settle(at: AppTest, timeout: float = 120) -> AppTest:
    """Rerun while the page waits on background work, as its polling fragment does in a browser."""
    deadline = time.monotonic() + timeout
    while any(p.proto.text.startswith(WAITING) for p in at.get("progress")):
        assert time.monotonic() < deadline, "the background work did not finish in time"
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)
