"""Honest times in the app itself: the Train button's measured time and the Time left a person reads while the
quick demo trains, against the time it really took, in a real browser on a real server."""

from __future__ import annotations

import re
import time

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from studio import no_exception, record_timing, wait_idle


def seconds(text: str) -> int | None:
    """'1 min 05 s' or '9 s' as seconds; None for a dash."""
    found = re.fullmatch(r"(?:(\d+) min )?(\d+) s", text.strip())
    return None if not found else int(found.group(1) or 0) * 60 + int(found.group(2))


def test_the_time_a_person_reads_is_the_time_training_takes(server, page):
    page.goto(f"{server}/train?preset=quick-demo&epochs=3")
    button = page.get_by_role("button", name=re.compile(r"Train · about .+ here"))
    button.wait_for(timeout=120_000)
    expect(page.get_by_text("Measuring how fast")).to_have_count(0, timeout=120_000)
    wait_idle(page)
    promised = seconds(button.inner_text().split("about")[1].removesuffix("here"))
    button.click()
    started, readings = time.monotonic(), []
    finished = page.get_by_text("Finished in")
    while not finished.count():
        assert time.monotonic() - started < 180, "the quick demo did not finish in 3 minutes"
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Time left")
        if metric.count():
            try:
                value = metric.first.locator('[data-testid="stMetricValue"]').inner_text(timeout=2_000)
            except PlaywrightTimeout:  # the job ended and the page redrew its outcome, without the metric
                continue
            readings.append((time.monotonic() - started, seconds(value)))
        time.sleep(0.4)
    took = time.monotonic() - started
    record_timing("quick_demo_3_epochs_in_the_app_s", took)
    late = [(t, left) for t, left in readings if t >= 0.1 * took]
    good = [left is not None and abs(left - (took - t)) <= 0.25 * (took - t) + 1 for t, left in late]
    assert len(good) >= 5 and sum(good) >= 0.8 * len(good), (took, readings)  # the page shows whole seconds
    assert 0.5 * took <= promised <= 1.6 * took, (promised, took)
    no_exception(page)
