"""Crafted runs that ask for huge models or costly weights headers are refused before anything big is allocated.

The configs are refused from their sizes alone, the models from their parameter count on the meta device, and
the safetensors headers from their length, entry count and shapes; a subprocess measures the peak memory of
real imports and loads of such runs (with a data limit, so a store that did allocate fails instead of swapping).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from run_zips import make_zip, run_files, small_run
from aecore.store import limits, runs
from aecore.config import ModelConfig
from aecore.store.runs import RunError

REPO = Path(__file__).resolve().parents[2]


def with_config(files: dict[str, bytes], model: dict | None = None, shape: list[int] | None = None) -> dict[str, bytes]:
    doc = json.loads(files["config.json"])
    doc["config"]["model"].update(model or {})
    doc["input_shape"] = shape or doc["input_shape"]
    return {**files, "config.json": json.dumps(doc).encode()}


CRAFTED = {  # the cases, and ones that pass every per-field bound but not the model's size
    "hidden 300000": ({"hidden": [300000]}, None),
    "hidden 4000000": ({"hidden": [4000000]}, None),
    "latent 4096 on 4096x4096": ({"latent_dim": 4096}, [1, 4096, 4096]),
    "eight 4096-wide layers": ({"hidden": [4096] * 8}, None),
    "wide conv on 512x512": ({"kind": "conv_ae", "hidden": [256], "latent_dim": 4096}, [3, 512, 512]),
}

PROBE = r"""
import json, resource, sys, time
from pathlib import Path
from aecore.store import runs
args = json.loads(sys.argv[1])
runs.import_run(Path(args["good"]).read_bytes(), args["root"])  # load everything lazy first
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
resource.setrlimit(resource.RLIMIT_DATA, (base * 1024 + (2 << 30),) * 2)  # a store that allocates fails, not swaps
out = {}
def attempt(name, fn):
    start = time.perf_counter()
    try:
        fn()
        outcome = "accepted"
    except runs.RunError as err:
        outcome = "RunError: " + str(err)
    except BaseException as err:
        outcome = f"{type(err).__name__}: {str(err)[:200]}"
    out[name] = [outcome, time.perf_counter() - start]
for name, path in args["zips"].items():
    attempt("zip " + name, lambda: runs.import_run(Path(path).read_bytes(), args["root"]))
for name, run_id in args["folders"].items():
    attempt("folder " + name, lambda: runs.load_model(run_id, args["store"]))
print(json.dumps({"cases": out, "grew_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base}))
"""


def test_crafted_runs_are_refused_quickly_in_little_memory(tmp_path):
    good = small_run(tmp_path / "src")
    files = run_files(good)
    (tmp_path / "good.zip").write_bytes(runs.export_run(good.id, tmp_path / "src"))
    zips, folders = {}, {}
    for name, (model, shape) in CRAFTED.items():
        crafted = with_config(files, model, shape)
        zips[name] = str(tmp_path / f"{len(zips)}.zip")
        Path(zips[name]).write_bytes(make_zip(crafted))
        folder = tmp_path / "store" / f"crafted-{len(folders)}"
        folder.mkdir(parents=True)
        for fname, data in crafted.items():
            (folder / fname).write_bytes(data)
        folders[name] = folder.name
    args = {"good": str(tmp_path / "good.zip"), "root": str(tmp_path / "dst"), "zips": zips, "folders": folders,
            "store": str(tmp_path / "store")}
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "AECORE_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    print(json.dumps(result, indent=1))  # seconds and memory, shown with pytest -s
    for case, (outcome, seconds) in result["cases"].items():
        assert outcome.startswith("RunError: "), (case, outcome)
        assert seconds < 1.0, (case, seconds)
    assert result["grew_kb"] < 100 * 1024, result  # the small real zip itself needs a few MB at most
    assert len(runs.list_runs(tmp_path / "dst")) == 1  # only the good zip landed


def test_messages_name_the_bound(tmp_path):
    files = run_files(small_run(tmp_path / "src"))
    with pytest.raises(RunError, match=r"hidden.*4096"):
        runs.import_run(make_zip(with_config(files, {"hidden": [300000]})), tmp_path / "dst")
    with pytest.raises(RunError, match=r"input_shape"):
        runs.import_run(make_zip(with_config(files, None, [1, 4096, 4096])), tmp_path / "dst")
    with pytest.raises(RunError, match=r"parameters.*at most"):
        runs.import_run(make_zip(with_config(files, {"hidden": [4096] * 8})), tmp_path / "dst")


@pytest.mark.parametrize("field, value", [("latent_dim", 5000), ("latent_dim", 8.5), ("hidden", (5000,)),
                                          ("hidden", (64,) * 9), ("hidden", (True,)), ("latent_dim", True)])
def test_model_config_bounds(field, value):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**{field: value})








def test_store_refuses_to_save_a_model_it_could_not_load_back(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_PARAMETERS", 1000)
    with pytest.raises(RunError, match="parameters"):
        small_run(tmp_path)
    assert not list(tmp_path.glob("*/*"))
