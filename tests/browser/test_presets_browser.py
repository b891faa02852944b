"""The presets side by side as a person compares them: the Quick demo against the classic tutorial network.

A server of its own gets two runs trained from the presets exactly as the Train page would train them, on
the bundled FashionMNIST sample: the classic fully connected tutorial (`fashion-mlp`) and the Quick demo. The
Compare page's score table, downloaded as CSV from its toolbar, must show the demo beating both the classic
and PCA with the same code size, and PCA beside each run at that run's own code size.
"""

from __future__ import annotations

import csv
import dataclasses
import io

import pytest
from playwright.sync_api import expect

from studio import no_exception, screenshot, start_server, stop_server, wait_idle

FIGURE_TIMEOUT = 240_000  # ms: scoring two runs on a busy 2-core machine
# A headless browser cannot answer the File System Access API's save dialog; without that API, Streamlit's
# table toolbar downloads the CSV as a plain browser download, as it does in browsers that lack it.
NO_SAVE_PICKER = "delete window.showSaveFilePicker; window.showSaveFilePicker = undefined;"


@pytest.fixture(scope="module")
def preset_runs(tmp_path_factory):
    """The server's url and, by preset name, the code size of each run it holds."""
    from aecore.store import runs
    from aecore.presets import get_preset
    from aecore.train import train_run

    root = tmp_path_factory.mktemp("presets-browser") / "runs"
    root.mkdir()
    sizes = {}
    for name in ("fashion-mlp", "quick-demo"):  # saved in this order: the Quick demo is the newest
        cfg = dataclasses.replace(get_preset(name), name=name)  # named after the preset's key, for the table's rows
        runs.save_run(train_run(cfg, device="cpu"), root=root)
        sizes[name] = cfg.model.latent_dim
    proc, url = start_server(root)
    yield url, sizes
    stop_server(proc)


@pytest.fixture
def page(page):
    page.set_viewport_size({"width": 1400, "height": 2800})
    page.context.add_init_script(NO_SAVE_PICKER)
    return page


def table_rows(page, table) -> dict[str, dict[str, str]]:
    """A table's rows by run name, from its own CSV download."""
    table.hover()
    with page.expect_download() as got:
        table.get_by_role("button", name="Download as CSV").click()
    return {r["Run"]: r for r in csv.DictReader(io.StringIO(open(got.value.path(), encoding="utf-8-sig").read()))}


def number(cell: str) -> float:
    return float(cell.replace("★", "").replace(",", "").strip())


def test_compare_shows_the_quick_demo_beating_the_classic_and_pca(page, preset_runs):
    from aecore.reference import pca_at

    url, sizes = preset_runs
    page.goto(f"{url}/compare")
    page.locator('[data-testid="stImage"]').first.wait_for(state="visible", timeout=FIGURE_TIMEOUT)
    wait_idle(page, FIGURE_TIMEOUT)
    no_exception(page)
    expect(page.locator('[data-testid="stImage"]')).to_have_count(3)  # the originals, then each model's row
    page.get_by_text("Details: every score").click()  # every score, one click away
    plain_rows, rows = (table_rows(page, page.locator('[data-testid="stDataFrame"]').nth(i)) for i in (0, 1))
    assert set(rows) == set(plain_rows) == {"fashion-mlp", "quick-demo"}
    demo, classic = rows["quick-demo"], rows["fashion-mlp"]
    for name, row in rows.items():  # PCA at each run's own code size, from the benchmark's reference file
        pca = pca_at("fashion-mnist-sample", sizes[name])
        assert int(plain_rows[name]["Code size"]) == sizes[name]
        assert number(row["PCA MSE"]) == pytest.approx(pca["mse"], abs=5e-5)
        assert number(row["PCA SSIM"]) == pytest.approx(pca["ssim"], abs=5e-4)
        assert number(plain_rows[name]["Looks alike"].rstrip("%★ ")) == round(max(0.0, number(row["SSIM"])) * 100)
    assert number(demo["SSIM"]) > number(demo["PCA SSIM"]) and number(demo["MSE"]) < number(demo["PCA MSE"])
    assert number(demo["SSIM"]) > number(classic["SSIM"]) + 0.1  # the demo draws visibly sharper
    assert "★" in demo["SSIM"] and "★" not in classic["SSIM"]  # and the page marks it as the best
    assert "★" in plain_rows["quick-demo"]["Looks alike"] and "★" not in plain_rows["fashion-mlp"]["Looks alike"]
    screenshot(page, "compare-presets")
