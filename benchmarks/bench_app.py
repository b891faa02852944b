"""Training where users train: in the app, with the Train page open, against the command line; and how the server
answers while it trains.

    python benchmarks/bench_app.py [--presets fashion-mlp,quick-demo] [--epochs 4] [--opens 20]

Starts a real `streamlit run app.py` on a free port with its own run store and drives it with Debian's headless
Chromium (as tests/browser does). For each preset: Train is clicked with the page left open, as a person watching
it, until "Finished in"; then the same preset is trained with `python -m aecore train` on the same machine.
This is done `--repeats` times in turns (app, command line, app, ...): a single pair moved by up to 0.2x between
runs on a 2-core machine. Printed: the median images/s of each (from the runs' own histories), the ratio of the
medians (the app's over the command line's) and the ratio of each turn.
Then the health endpoint's 95th and 99th percentile latency and a second visitor's time to open Runs (95th
percentile over `--opens` opens of each kind: a first visit with a new browser profile, a return visit in a new
tab of a browser that has the frontend cached, and a click on Runs from another page of the app), idle and busy,
side by side in the same run: busy is while a job trains from a
page left open and two more visitors on Latent space keep asking for maps of 2,000 codes, one UMAP after another
and one t-SNE after another (the server runs with `AECORE_MAX_COMPUTE=2`, so both run beside the job).
Last, the first UMAP and the first t-SNE of 2,000 codes in a fresh server's warm worker pool (a new process
whose workers have started), with an empty numba cache and then with the cache the first left, 30 s after the
workers are up (`--maps-only` measures only these).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from studio import CHROMIUM, CHROMIUM_ARGS, TRAIN_BUTTON, start_server, stop_server, wait_idle  # noqa: E402

from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from aecore.store.runs import list_runs  # noqa: E402


MAPS_START_SECONDS = 15.0  # for the two map visitors' pages to open and their first maps to start
SETTLE_SECONDS = 30.0  # after a fresh pool's workers are up, before its first map is timed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def health_latencies(url: str, seconds: float) -> list[float]:
    """Milliseconds of each health request made back to back for `seconds`."""
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as r:
            r.read()
        out.append(1000 * (time.perf_counter() - started))
        time.sleep(0.05)
    return out


OPENS = ("first visit", "return visit", "from another page")


def runs_opens(browser, url: str, n: int, how: str) -> list[float]:
    """Seconds a visitor waits for the Runs page to be drawn, `n` times, opened `how` (one of OPENS):
    - "first visit": a new browser profile, which fetches and compiles Streamlit's frontend with a cold cache;
    - "return visit": a new tab of a browser that has been here before (its cache holds the frontend);
    - "from another page": a click on Runs in the sidebar of an open Home page (no page load at all)."""
    times = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url if how == "from another page" else f"{url}/runs")  # warms the cache; untimed
    wait_idle(page)
    for _ in range(n):
        if how == "first visit":
            context.close()
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
        if how != "from another page":
            page.close()
            page = context.new_page()
        started = time.monotonic()
        if how == "from another page":
            page.get_by_role("link", name="Runs").first.click()
        else:
            page.goto(f"{url}/runs")
        page.get_by_role("heading", name="Runs").first.wait_for(timeout=60_000)
        wait_idle(page)
        times.append(time.monotonic() - started)
        if how == "from another page":
            page.get_by_role("link", name="Home").first.click()
            page.get_by_role("heading", name="Runs").first.wait_for(state="detached", timeout=60_000)
            wait_idle(page)
    context.close()
    return times


def keep_mapping(url: str, method: str, stop: threading.Event, maps: list[float]) -> None:
    """A visitor on Latent space who asks for a fresh map of 2,000 codes by `method` ("t-SNE (clusters)" or "UMAP
    (clusters, layout)") as soon as the last is drawn, until `stop` is set: each count of images is new, so no map
    comes from the cache. The seconds each map took are appended to `maps`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 2000}).new_page()
        page.goto(f"{url}/latent")
        wait_idle(page, 240_000)
        page.get_by_text(method, exact=True).click()
        wait_idle(page, 240_000)
        drawing = page.get_by_text(re.compile(r"^Drawing the map"))
        n = 2000
        while not stop.is_set():
            count = page.get_by_role("spinbutton", name="Images to show")
            started = time.monotonic()
            count.fill(str(n))
            count.press("Enter")
            with contextlib.suppress(PlaywrightTimeout):  # a map may be drawn before its bar is seen
                drawing.first.wait_for(timeout=5_000)
            drawing.first.wait_for(state="detached", timeout=600_000)
            maps.append(time.monotonic() - started)
            n -= 1
        browser.close()


def train_in_app(page, url: str, preset: str, epochs: int) -> float:
    """Seconds from the click to "Finished in", the page open all along."""
    page.goto(f"{url}/train?preset={preset}&epochs={epochs}")
    button = page.get_by_role("button", name=TRAIN_BUTTON)
    button.wait_for(timeout=180_000)
    page.get_by_text("Measuring how fast").wait_for(state="detached", timeout=180_000)
    wait_idle(page)
    started = time.monotonic()
    page.get_by_role("button", name=TRAIN_BUTTON).click()
    page.get_by_text("Finished in").wait_for(timeout=1_800_000)
    return time.monotonic() - started


def train_on_cli(runs: Path, preset: str, epochs: int) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "aecore", "train", "--preset", preset, "--epochs", str(epochs),
                    "--device", "cpu"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "AECORE_RUNS_DIR": str(runs), "AECORE_THREADS": "1"})
    return time.monotonic() - started


def newest_speed(runs: Path) -> float:
    newest = max(list_runs(runs), key=lambda r: r.created)
    return newest.history.images_per_sec


def first_map(method: str, settle: float) -> None:
    """In this fresh process: start the pool, wait until its workers are up and then `settle` seconds more (their
    map libraries compile beside them), then time one map of 2,000 codes."""
    import numpy as np

    from aecore import background, units, workers
    from aecore.latent import MapSettings

    workers.pool().warm()
    background.wait(workers.submit(units.warm), 300)  # a worker is up
    time.sleep(settle)  # and its map libraries compiled beside it, as on a server a minute old
    z = np.random.default_rng(0).normal(size=(2000, 32)).astype(np.float32)
    started = time.monotonic()
    s = background.wait(workers.submit(units.projection, z, method, 2, MapSettings()), 600)
    print(json.dumps({"method": method, "state": s.state, "seconds": round(time.monotonic() - started, 1)}))


def first_maps() -> dict[str, float]:
    """Each method's first map in a fresh process: with an empty numba cache, then with the one it left, a server
    a minute old; last, with the cache kept, asked for as soon as the workers are up."""
    out = {}
    cache = Path(tempfile.mkdtemp(prefix="bench-app-cache-"))
    for method in ("umap", "tsne"):
        for when, settle in (("empty_cache", SETTLE_SECONDS), ("kept_cache", SETTLE_SECONDS), ("kept_cache_at_once", 0)):
            done = subprocess.run([sys.executable, __file__, "--first-map", method, "--settle", str(settle)],
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ, "AECORE_CACHE_DIR": str(cache / method)})
            out[f"first_{method}_s_{when}"] = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="fashion-mlp,quick-demo")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="turns of app then command line, per preset")
    parser.add_argument("--opens", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="of health requests, idle and busy")
    parser.add_argument("--maps-only", action="store_true", help="only the first maps of a fresh server")
    parser.add_argument("--no-first-maps", action="store_true", help="all but the first maps of a fresh server")
    parser.add_argument("--first-map", choices=("umap", "tsne"), help=argparse.SUPPRESS)
    parser.add_argument("--settle", type=float, default=SETTLE_SECONDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.first_map:
        first_map(args.first_map, args.settle)
        return 0
    if args.maps_only:
        print(json.dumps(first_maps()))
        return 0
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench-app-"))
    app_runs, cli_runs = folder / "app", folder / "cli"
    app_runs.mkdir()
    cli_runs.mkdir()
    proc, url = start_server(app_runs, {"AECORE_MAX_COMPUTE": "2"})  # the UMAP and the t-SNE run at once
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            for preset in args.presets.split(","):
                app, cli = [], []
                for _ in range(args.repeats):  # in turns, so a slower spell of the machine falls on both
                    app.append((train_in_app(page, url, preset, args.epochs), newest_speed(app_runs)))
                    cli.append((train_on_cli(cli_runs, preset, args.epochs), newest_speed(cli_runs)))
                app_speed = statistics.median(speed for _, speed in app)
                cli_speed = statistics.median(speed for _, speed in cli)
                rows.append({"preset": preset, "app_images_per_s": round(app_speed), "cli_images_per_s": round(cli_speed),
                             "ratio": round(app_speed / cli_speed, 2),
                             "ratio_per_turn": [round(a / c, 2) for (_, a), (_, c) in zip(app, cli)],
                             "app_wall_s": round(statistics.median(s for s, _ in app), 1),
                             "cli_wall_s": round(statistics.median(s for s, _ in cli), 1)})
                print(json.dumps(rows[-1]), flush=True)
            idle_health = health_latencies(url, args.seconds)
            idle_opens = {how: runs_opens(browser, url, args.opens, how) for how in OPENS}
            # the same while a long job trains, started from a page left open
            page.goto(f"{url}/train?preset=fashion-mlp&epochs=200&patience=0")  # trains all along
            page.get_by_role("button", name=TRAIN_BUTTON).wait_for(timeout=180_000)
            wait_idle(page)
            page.get_by_role("button", name=TRAIN_BUTTON).click()
            page.get_by_text("Time left").first.wait_for(timeout=120_000)
            # and two visitors who keep asking for maps: a UMAP and a t-SNE run beside the job all along
            stop, maps = threading.Event(), {"umap": [], "tsne": []}
            mappers = [threading.Thread(target=keep_mapping, args=(url, label, stop, maps[method]))
                       for method, label in (("umap", "UMAP (clusters, layout)"), ("tsne", "t-SNE (clusters)"))]
            for mapper in mappers:
                mapper.start()
            time.sleep(MAPS_START_SECONDS)
            busy: dict[str, list[float]] = {}
            health = threading.Thread(target=lambda: busy.setdefault("health", health_latencies(url, args.seconds)))
            health.start()
            busy_opens = {how: runs_opens(browser, url, args.opens, how) for how in OPENS}
            health.join()
            stop.set()
            for mapper in mappers:
                mapper.join()
            page.get_by_role("button", name="Stop").first.click()
            browser.close()
    finally:
        stop_server(proc)
    print(json.dumps({
        "health_ms_p95_idle": round(percentile(idle_health, 0.95), 1),
        "health_ms_p95_training": round(percentile(busy["health"], 0.95), 1),
        "health_ms_p99_idle": round(percentile(idle_health, 0.99), 1),
        "health_ms_p99_training": round(percentile(busy["health"], 0.99), 1),
        "runs_open_s_p95_idle": {how: round(percentile(v, 0.95), 2) for how, v in idle_opens.items()},
        "runs_open_s_p95_training": {how: round(percentile(v, 0.95), 2) for how, v in busy_opens.items()},
        "runs_open_s_median_training": {how: round(statistics.median(v), 2) for how, v in busy_opens.items()},
        "maps_drawn_beside": {m: len(v) for m, v in maps.items()},
        "map_s_median_beside": {m: round(statistics.median(v), 1) if v else None for m, v in maps.items()},
    }))
    if not args.no_first_maps:
        print(json.dumps(first_maps()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
