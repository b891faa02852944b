"""Uploading crafted run zips on the Runs page: each is refused with a clear message within 2 s, in little memory.

The zips are small real exports whose config asks for a huge model (the issue's cases, and one that passes
every per-field bound but not the model's size). The server has its own empty store, so its memory can be
read from /proc while it refuses them; it must stay up and under 1 GB at its peak.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from aecore.store import runs
from aecore.config import RunConfig
from aecore.models import build_model
from aecore.config import default_config
from aecore.train import History, TrainResult
from studio import choose_file, no_exception, record_timing, screenshot, start_server, stop_server, wait_idle

CRAFTED = {  # name: (model fields, input_shape, what the refusal names)
    "hidden-300000": ({"hidden": [300000]}, None, "300000"),
    "hidden-4000000": ({"hidden": [4000000]}, None, "4000000"),
    "latent-4096-on-4096px": ({"latent_dim": 4096}, [1, 4096, 4096], "4096"),
    "eight-wide-layers": ({"hidden": [4096] * 8}, None, "parameters"),
}


def memory_kb(pid: int) -> dict[str, int]:
    """The process's resident memory now (VmRSS) and at its peak (VmHWM), in kB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}


@pytest.fixture(scope="module")
def runs_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs-browser") / "runs"
    root.mkdir()
    proc, url = start_server(root)
    yield proc, url, root
    stop_server(proc)


@pytest.fixture(scope="module")
def crafted_zips(tmp_path_factory) -> dict[str, bytes]:
    src = tmp_path_factory.mktemp("crafted")
    cfg = RunConfig(model=dataclasses.replace(default_config("mlp_ae"), latent_dim=4, hidden=(8,)))
    result = TrainResult(cfg, build_model(cfg.model, (1, 28, 28)), History("done", (), 2, 0.5, 100.0))
    with zipfile.ZipFile(io.BytesIO(runs.export_run(runs.save_run(result, src).id, src))) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    out = {}
    for name, (model, shape, _) in CRAFTED.items():
        doc = json.loads(files["config.json"])
        doc["config"]["model"].update(model)
        doc["input_shape"] = shape or doc["input_shape"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for fname, data in {**files, "config.json": json.dumps(doc).encode()}.items():
                zf.writestr(fname, data)
        out[name] = buf.getvalue()
    return out


def test_crafted_uploads_are_refused_quickly_and_the_server_stays_small(page, runs_server, crafted_zips):
    proc, url, root = runs_server
    page.goto(f"{url}/runs")
    page.get_by_text("No saved runs yet", exact=False).wait_for(timeout=90_000)
    wait_idle(page)
    for name, data in crafted_zips.items():
        start = choose_file(page, {"name": f"{name}.zip", "mimeType": "application/zip", "buffer": data})
        refusal = page.locator('[data-testid="stAlertContentError"]').filter(has_text="could not be added")
        refusal.filter(has_text=CRAFTED[name][2]).wait_for(timeout=10_000)
        seconds = time.perf_counter() - start
        record_timing(f"runs_upload_refused_{name}_s", seconds)
        assert seconds < 2.0, f"{name} took {seconds:.1f} s to refuse"
        wait_idle(page)
        no_exception(page)
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
            assert r.read().strip() == b"ok"
        assert proc.poll() is None
        mem = memory_kb(proc.pid)
        assert mem["VmHWM"] < 1024 * 1024, f"after {name} the server peaked at {mem['VmHWM'] // 1024} MB"
        if name == "hidden-300000":
            screenshot(page, "runs-upload-refused")
    assert runs.list_runs(root) == []
    print(f"server memory after the uploads: {memory_kb(proc.pid)} kB")


def test_download_works_and_a_run_deleted_meanwhile_is_a_message(page, runs_server, tmp_path):
    proc, url, root = runs_server
    cfg = RunConfig(model=dataclasses.replace(default_config("mlp_ae"), latent_dim=4, hidden=(8,)), name="to share")
    info = runs.save_run(TrainResult(cfg, build_model(cfg.model, (1, 28, 28)), History("done", (), 2, 0.5, 100.0)), root)
    page.goto(f"{url}/runs")
    button = page.get_by_role("button", name="Download (.zip)")
    button.wait_for(timeout=90_000)
    wait_idle(page)
    with page.expect_download(timeout=30_000) as download:
        button.click()
    saved = tmp_path / "run.zip"
    download.value.save_as(saved)
    assert runs.import_run(saved.read_bytes(), tmp_path / "elsewhere").name == "to share"
    wait_idle(page)
    runs.delete_run(info.id, root)  # another window deletes the run this one still shows
    button.click()
    page.get_by_text("Could not download the run", exact=False).wait_for(timeout=30_000)
    wait_idle(page)
    no_exception(page)
    assert "deleted" in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    screenshot(page, "runs-download-of-deleted-run")


def test_rename_then_delete_and_a_rename_in_another_window_keep_the_picked_run(page, runs_server):
    """The picker holds the label it showed; after a rename that label is stale and must still mean the same run."""
    proc, url, root = runs_server
    for run in runs.list_runs(root):
        runs.delete_run(run.id, root)
    cfg = RunConfig(model=dataclasses.replace(default_config("mlp_ae"), latent_dim=4, hidden=(8,)))
    saved = [runs.save_run(TrainResult(dataclasses.replace(cfg, name=name), build_model(cfg.model, (1, 28, 28)),
                                       History("done", (), 2, 0.5, 100.0)), root) for name in ("older", "newer")]
    page.goto(f"{url}/runs")
    name_box = page.get_by_label("Name", exact=True)
    name_box.wait_for(timeout=90_000)
    wait_idle(page)
    name_box.fill("renamed here")
    name_box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Rename").click()
    page.get_by_text("Renamed to", exact=False).wait_for()
    wait_idle(page)
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Yes, delete it").click()
    page.get_by_text("The run was deleted", exact=False).wait_for()
    wait_idle(page)
    no_exception(page)
    assert [r.name for r in runs.list_runs(root)] == ["older"]

    runs.rename_run(saved[0].id, "renamed elsewhere", root)  # another window renames the run this one shows
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Cancel").wait_for()
    wait_idle(page)
    no_exception(page)
    assert page.locator('[data-testid="stSelectbox"] input').first.input_value().startswith("renamed elsewhere")
    assert name_box.input_value() == "renamed elsewhere"  # the name field follows, so Rename cannot undo it
    page.get_by_role("button", name="Cancel").click()
    wait_idle(page)
    no_exception(page)
    screenshot(page, "runs-rename-then-delete")
