"""Helpers for browser tests: start the real app server, wait for Streamlit, save screenshots and timings.

Screenshots land in `artifacts/screenshots/` (or `$AECORE_ARTIFACTS`), browser timings in
`artifacts/timings.json`, so a person can look at what the tests saw.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
ARTIFACTS = Path(os.environ.get("AECORE_ARTIFACTS", ROOT / "artifacts"))
SHOTS = ARTIFACTS / "screenshots"
TRAIN_BUTTON = re.compile(r"Train( · about .+ here)?$")  # with the time once this machine's speed is measured


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


def start_server(runs: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "AECORE_RUNS_DIR": str(runs), "AECORE_DATASETS_DIR": str(runs.parent / "datasets"),
           "AECORE_THREADS": "1", **(extra_env or {})}
    log = open(runs.parent / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
    except Exception:
        proc.kill()
        raise
    return proc, url


def save_small_run(root: Path, name: str = "AE 8-d", owner: str = "") -> None:
    """One small real run (an 8-number AE, 3 epochs of 2,048 images of the bundled FashionMNIST sample), saved as
    `owner`'s (aecore.owners)."""
    from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from aecore.store import runs
    from aecore.train import train_run

    cfg = RunConfig(DataConfig(limit_train=2048), ModelConfig("mlp_ae", 8, (128,)), TrainConfig(epochs=3, patience=0),
                    name=name)
    result = train_run(cfg, device="cpu")
    runs.save_run(result, root=root, owner=owner, preview_images=result.preview_images)  # as the app saves it


def save_named_runs(root: Path, names: tuple[str, ...]) -> None:
    """A small real run per name (one epoch of a tiny network), saved as trained, for pages that show names."""
    import dataclasses

    from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from aecore.store import runs
    from aecore.train import train_run

    for name in names:
        cfg = RunConfig(DataConfig(limit_train=512), ModelConfig("mlp_ae", 8, (64,)), TrainConfig(epochs=1, patience=0),
                        name=name)
        result = train_run(cfg, device="cpu")
        # a stand-in for a trained model: a run this short is no_better, which the analysis pages leave out
        runs.save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")), root=root)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_idle(page, timeout: float = 60_000) -> None:
    """Wait until the app is connected, its script run has finished and no spinner is showing."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
                && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-testid="stSpinner"]');
        }""",
        timeout=timeout,
    )


def choose_file(page, file: dict, tries: int = 3) -> float:
    """Choose one file in the page's file uploader and wait until the uploader shows it; the time it was chosen.

    Now and then the change event of a file input set by Playwright never reaches the uploader's drop handler:
    the uploader goes on showing the file it had, and nothing reaches the server. A choice that does not show
    within 5 s is therefore made again; the time returned is that of the choice that showed.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    chip = page.locator(f'[data-testid="stFileChipName"][title="{file["name"]}"]')
    for attempt in range(1, tries + 1):
        start = time.perf_counter()
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(file)
        try:
            chip.wait_for(timeout=5_000)
            return start
        except PlaywrightTimeout:
            if attempt == tries:
                raise
            print(f"the uploader did not take {file['name']}; choosing it again")


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator('[data-testid="stException"]').first.inner_text()


def screenshot(page, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its own container, so the window grows to fit first."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.mouse.move(0, 0)  # no tooltip in the picture
    size = page.viewport_size or {"width": 1400, "height": 1000}
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0")
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height) + 40, size["height"]), 6000)})
    try:
        page.wait_for_timeout(300)  # let charts re-lay themselves out at the new size
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    return path


def visit(page, url: str, path: str, timeout: float = 120_000) -> float:
    """Open a page and wait until it has drawn without an exception; returns the seconds it took."""
    start = time.perf_counter()
    page.goto(f"{url}/{path}", timeout=timeout)
    page.wait_for_selector("h1", timeout=timeout)
    wait_idle(page, timeout=timeout)
    no_exception(page)
    return time.perf_counter() - start


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def record_timing(name: str, seconds: float) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = round(seconds, 3)
    path.write_text(json.dumps(data, indent=2))
