"""A stop signal while a job trains: the server ends the job cleanly and exits 0, twenty times out of twenty.

Each round starts a real server, starts a long training job from the Train page in headless Chromium, waits
for its first progress, and sends SIGTERM. Torch kernels torn down in a daemon thread while the interpreter
finalised used to abort the process ("terminate called without an active exception", exit -6).
"""

from __future__ import annotations

import re
import signal
import subprocess
import time

from aecore.store import runs
from studio import TRAIN_BUTTON, record_timing, start_server, wait_idle

ROUNDS = 20


def test_sigterm_mid_training_ends_the_job_and_exits_0(browser, tmp_path):
    outcomes, seconds = [], []
    for i in range(ROUNDS):
        root = tmp_path / f"round-{i}" / "runs"
        root.mkdir(parents=True)
        proc, url = start_server(root)
        page = browser.new_page()
        try:
            page.goto(f"{url}/train?epochs=300")
            wait_idle(page)
            page.get_by_role("button", name=TRAIN_BUTTON).click()
            page.locator('[data-testid="stMain"] [data-testid="stProgress"]').get_by_text(
                re.compile(r"Epoch 1/300 · batch \d+")).wait_for(timeout=60_000)  # training steps are running
            start = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = "still running 60 s after SIGTERM"
            seconds.append(time.perf_counter() - start)
        finally:
            page.close()
            if proc.poll() is None:
                proc.kill()
        log = next(root.parent.glob("streamlit-*.log")).read_text()
        outcomes.append((code, "terminate called" in log))
        assert runs.list_runs(root) == [], "a job cut short by the stop signal was saved as a run"
    record_timing("sigterm_mid_training_exit_s_max", max(seconds))
    assert outcomes == [(0, False)] * ROUNDS, outcomes
