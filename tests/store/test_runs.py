"""Run store: round trips per model, listing, rename/delete, export/import, a killed save, and refusals.

Refusals cover damaged folders and hostile zips alike; the pickle payloads here are live (the control
check proves it), so a store that unpickled them would leave a marker file behind.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import safetensors.torch
import torch
from PIL import Image

from aecore.names import KIND_NAMES
from aecore.owners import new_token, owner_of
from aecore.store import runs
from aecore.config import DataConfig, RunConfig, TrainConfig
from aecore.data import load_dataset
from aecore.models import MODELS, build_model
from aecore.config import default_config
from aecore.store import format as run_format
from aecore.store.runs import RunError
from aecore.train import TrainResult, train_run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained():
    """train_run per model kind, trained once for the module: 2 steps on 256 sample images."""
    cache: dict[str, TrainResult] = {}

    def get(kind: str = "mlp_ae") -> TrainResult:
        if kind not in cache:
            cfg = RunConfig(data=DataConfig(limit_train=256, limit_test=64), model=default_config(kind),
                            train=TrainConfig(epochs=1, max_steps=2))
            cache[kind] = train_run(cfg, device="cpu")
        return cache[kind]

    return get


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return load_dataset(DataConfig(limit_test=8))[1].x  # (8, 1, 28, 28) uint8


def outputs(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x.float() / 255)


def run_files(info: runs.RunInfo) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in info.path.iterdir()}


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_round_trip(kind, trained, batch, tmp_path):
    result = trained(kind)
    info = runs.save_run(result, tmp_path, preview_images=batch)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", info.id)
    loaded = runs.load_run(info.id, tmp_path)
    assert loaded.config == result.config and loaded.history == result.history and loaded.metrics == result.metrics
    # two steps beat no average image: the run is kept, marked so
    assert (loaded.model_kind, loaded.status, loaded.ok, loaded.epochs_run) == (kind, "no_better", False, 1)
    assert loaded.name == f"{KIND_NAMES[kind]} · {result.config.model.latent_dim} numbers"  # said as a person would
    model = runs.load_model(info.id, tmp_path)
    assert not model.training
    assert torch.equal(outputs(model, batch), outputs(result.model, batch))
    for name in runs.JSON_FILES:
        assert json.loads((info.path / name).read_text())["schema_version"] == runs.SCHEMA_VERSION
    png = Image.open(io.BytesIO(runs.read_preview(info.id, tmp_path)))
    assert png.size == (8 * 30 + 2, 2 * 30 + 2)  # 8 originals over 8 reconstructions, 2 px gaps


def test_env_var_root_is_read_at_call_time(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_RUNS_DIR", str(tmp_path / "store"))
    info = runs.save_run(trained(), name="  my   run ")
    assert info.path.parent == tmp_path / "store" and info.name == "my run"
    assert runs.read_preview(info.id) is None
    assert [r.id for r in runs.list_runs()] == [info.id]


def test_list_newest_first_skips_temp_and_broken(trained, tmp_path):
    ids = [runs.save_run(trained(), tmp_path, name=f"run {i}").id for i in range(3)]
    (tmp_path / ".tmp-20990101-000000-abcdef").mkdir()
    (tmp_path / "stray-folder").mkdir()
    errors: list[RunError] = []
    assert [r.id for r in runs.list_runs(tmp_path, errors)] == ids[::-1]
    assert len(errors) == 1 and "stray-folder" in str(errors[0])
    assert runs.list_runs(tmp_path / "nothing-here") == []


def test_rename_persists_and_delete_removes(trained, tmp_path):
    a, b = (runs.save_run(trained(), tmp_path) for _ in range(2))
    assert runs.rename_run(a.id, "best model", tmp_path).name == "best model"
    assert runs.load_run(a.id, tmp_path).name == "best model"
    assert runs.load_run(a.id, tmp_path).config == a.config
    with pytest.raises(RunError, match="name"):
        runs.rename_run(a.id, "   ", tmp_path)
    runs.delete_run(b.id, tmp_path)
    assert [r.id for r in runs.list_runs(tmp_path)] == [a.id]
    assert sorted(p.name for p in tmp_path.iterdir()) == [a.id]
    with pytest.raises(RunError, match="unknown run id"):
        runs.load_run(b.id, tmp_path)
    with pytest.raises(RunError, match="unknown run id"):
        runs.delete_run("../" + a.id, tmp_path)


def test_export_import_gives_equal_model_with_new_id(trained, batch, tmp_path):
    info = runs.save_run(trained("conv_ae"), tmp_path / "a", preview_images=batch)
    data = runs.export_run(info.id, tmp_path / "a")
    assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == sorted(runs.RUN_FILES)
    first, second = runs.import_run(data, tmp_path / "b"), runs.import_run(data, tmp_path / "b")
    assert len({info.id, first.id, second.id}) == 3
    assert [r.id for r in runs.list_runs(tmp_path / "b")] == [second.id, first.id]
    assert (first.config, first.history, first.name) == (info.config, info.history, info.name)
    original = outputs(runs.load_model(info.id, tmp_path / "a"), batch)
    assert torch.equal(outputs(runs.load_model(first, tmp_path / "b"), batch), original)
    assert runs.read_preview(second.id, tmp_path / "b") == runs.read_preview(info.id, tmp_path / "a")


KILLED_SAVE = """
import sys, time
from aecore.store import runs
from aecore.config import ModelConfig, RunConfig
from aecore.models import build_model
from aecore.train import History, TrainResult
cfg = RunConfig(model=ModelConfig(hidden=(1024, 1024)))
result = TrainResult(cfg, build_model(cfg.model, (1, 28, 28)), History("done", (), 0, 0.0, 0.0))
write = runs._write_file
def slow_write(path, data):
    write(path, data)
    time.sleep(0.5)  # a slow disk: the parent sees the half-written temp folder and kills us in it
runs._write_file = slow_write
while True:
    runs.save_run(result, sys.argv[1])
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_save_leaves_no_partial_run(trained, batch, tmp_path):
    before = [runs.save_run(trained(), tmp_path).id for _ in range(2)]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(tmp_path)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 60
        while not any(p.is_file() for p in tmp_path.glob(".tmp-*/*")):
            assert proc.poll() is None, "the saving process died on its own"
            assert time.monotonic() < deadline, "the saving process never started writing"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    assert list(tmp_path.glob(".tmp-*")), "the kill should have landed mid-save"
    errors: list[RunError] = []
    assert sorted(r.id for r in runs.list_runs(tmp_path, errors)) == sorted(before) and errors == []
    for run_id in before:
        assert torch.equal(outputs(runs.load_model(run_id, tmp_path), batch), outputs(trained().model, batch))
    after = runs.save_run(trained(), tmp_path)
    assert [r.id for r in runs.list_runs(tmp_path)][0] == after.id
    for leftover in tmp_path.glob(".tmp-*"):
        os.utime(leftover, (0, 0))  # a day later, the next save sweeps the leftover away
    runs.save_run(trained(), tmp_path)
    assert not list(tmp_path.glob(".tmp-*"))


def set_json(name: str, **changes):
    def mutate(files: dict[str, bytes]) -> None:
        files[name] = json.dumps({**json.loads(files[name]), **changes}).encode()
    return mutate


def drop(name: str):
    return lambda files: files.pop(name)


def replace(name: str, data: bytes):
    return lambda files: files.__setitem__(name, data)


def wrong_shape_weights(files: dict[str, bytes]) -> None:
    other = build_model(dataclasses.replace(default_config("mlp_ae"), latent_dim=8), (1, 28, 28))
    files["weights.safetensors"] = safetensors.torch.save(other.state_dict())


def torch_save_weights(files: dict[str, bytes]) -> None:
    buf = io.BytesIO()
    torch.save(safetensors.torch.load(files["weights.safetensors"]), buf)
    files["weights.safetensors"] = buf.getvalue()


REFUSALS = {
    "unknown schema_version": (set_json("config.json", schema_version=99), "schema_version 99"),
    "missing weights": (drop("weights.safetensors"), "weights.safetensors"),
    "missing config": (drop("config.json"), "config.json"),
    "corrupted JSON": (replace("history.json", b'{"status": "done", "ep'), "history.json is not valid JSON"),
    "malformed history": (set_json("history.json", status="finished"), "malformed"),
    "shape mismatch": (wrong_shape_weights, r"weight 'encoder\.1\.2\.weight' has shape \[8, 256\] but .* needs \[64, 256\]"),
    "not safetensors": (replace("weights.safetensors", b"just some text, not tensors"), "not a safetensors file"),
    "torch.save weights": (torch_save_weights, "not a safetensors file .*torch.save"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_damaged_run_is_refused(case, trained, tmp_path):
    mutate, message = REFUSALS[case]
    info = runs.save_run(trained(), tmp_path)
    files = run_files(info)
    mutate(files)
    for p in info.path.iterdir():
        p.unlink()
    for name, data in files.items():
        (info.path / name).write_bytes(data)
    with pytest.raises(RunError, match=message):
        runs.load_model(runs.load_run(info.id, tmp_path), tmp_path)
    errors: list[RunError] = []
    listed = runs.list_runs(tmp_path, errors)
    assert len(listed) + len(errors) == 1  # weights are only checked when loaded, never crash the listing


@pytest.mark.parametrize("case", REFUSALS)
def test_damaged_zip_is_refused(case, trained, tmp_path):
    mutate, message = REFUSALS[case]
    info = runs.save_run(trained(), tmp_path / "src")
    files = run_files(info)
    mutate(files)
    with pytest.raises(RunError, match=message):
        runs.import_run(make_zip(files), tmp_path / "dst")
    assert not (tmp_path / "dst").exists() or list((tmp_path / "dst").iterdir()) == []


def bomb(marker: Path) -> bytes:
    """A pickle that touches `marker` when unpickled."""
    class Payload:
        def __reduce__(self):
            return Path.touch, (marker,)
    return pickle.dumps(Payload())


def test_pickle_bomb_is_never_unpickled(trained, tmp_path):
    control = tmp_path / "control"
    pickle.loads(bomb(control))  # the payload is live: unpickling it does create the marker
    assert control.exists()
    marker = tmp_path / "pwned"
    files = run_files(runs.save_run(trained(), tmp_path / "src"))
    for weights in (bomb(marker), b"PK\x03\x04" + bomb(marker)):
        files["weights.safetensors"] = weights
        with pytest.raises(RunError, match="not a safetensors file"):
            runs.import_run(make_zip(files), tmp_path / "dst")
    assert not marker.exists()
    assert runs.list_runs(tmp_path / "dst") == []
    for module in (runs, run_format):
        source = Path(module.__file__).read_text()
        assert not re.search(r"(?<!safetensors\.)torch\.load\(|import pickle|pickle\.load", source), module


@pytest.mark.parametrize("bad", ["../evil.txt", "/tmp/evil.txt", "sub/config.json", "model.pt"])
def test_zip_with_unexpected_names_writes_nothing(bad, trained, tmp_path):
    files = run_files(runs.save_run(trained(), tmp_path / "src"))
    files[bad] = b"evil"
    with pytest.raises(RunError, match=re.escape(repr(bad))):
        runs.import_run(make_zip(files), tmp_path / "dst" / "root")
    assert not (tmp_path / "dst").exists() and not (tmp_path / "evil.txt").exists()


def test_zip_limits_and_garbage(trained, tmp_path, monkeypatch):
    info = runs.save_run(trained(), tmp_path / "src")
    with pytest.raises(RunError, match="not a zip file"):
        runs.import_run(b"definitely not a zip", tmp_path / "dst")
    monkeypatch.setattr(run_format, "MAX_ZIP_BYTES", 1000)
    with pytest.raises(RunError, match="unpacks to more than"):
        runs.import_run(runs.export_run(info.id, tmp_path / "src"), tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_a_run_keeps_its_owner_and_an_import_has_none(trained, tmp_path):
    owner = owner_of(new_token())
    info = runs.save_run(trained(), root=tmp_path, owner=owner)
    assert info.owner == owner and runs.load_run(info.id, tmp_path).owner == owner
    assert runs.rename_run(info.id, "renamed", tmp_path).owner == owner  # a rename keeps who owns it
    assert runs.save_run(trained(), root=tmp_path).owner == ""  # a script's run
    adder = owner_of(new_token())
    imported = runs.import_run(runs.export_run(info.id, tmp_path), tmp_path, added_by=adder)
    assert imported.owner == "" and json.loads((imported.path / "config.json").read_bytes()).get("owner") is None
    assert runs.runs_of(owner, tmp_path) == 1 and runs.runs_of(adder, tmp_path) == 1  # counted, not theirs to change
    assert runs.runs_of("", tmp_path) == 0


@pytest.mark.parametrize("owner", ["ADMIN", 7, ["x"], "0" * 31])
def test_a_run_folder_with_a_malformed_owner_is_refused_alone(trained, tmp_path, owner):
    bad, good = (runs.save_run(trained(), root=tmp_path) for _ in range(2))
    doc = json.loads((bad.path / "config.json").read_bytes())
    doc["owner"] = owner
    (bad.path / "config.json").write_text(json.dumps(doc))
    with pytest.raises(RunError, match="owner must be empty or 32 lowercase hex digits"):
        runs.load_run(bad.id, tmp_path)
    errors: list[RunError] = []
    assert [r.id for r in runs.list_runs(tmp_path, errors)] == [good.id] and len(errors) == 1
