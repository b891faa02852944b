"""A run's files fuzzed field by field: the store raises RunError for that run only, and what it loads can be shown.

Each example copies one good run folder next to another good run, replaces one value in one of its JSON files
(or its weights header, or its preview) with a wrong type, a huge, negative, non-finite or deeply nested value,
then reads it the way the store and the pages do. Nothing but RunError may escape, and the good run still lists.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from aecore import cli

from aecore.store import runs
from aecore.config import RunConfig
from aecore.data import load_dataset
from aecore.models import build_model
from aecore.config import default_config
from aecore.store.runs import RunError
from aecore.train import History, TrainResult
from ui.charts import loss_curves_figure
from ui.images import enlarge_png
from ui.runs import runs_table, settings_text
from ui.widgets import format_duration

DEEP = "\u0000deep\u0000"  # stands for 100,000 nested lists, written straight into the JSON text
HUGE = "\u0000huge\u0000"  # stands for a 5,000-digit number
DROP = object()
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A store holding one small real run with a preview; examples copy its folder."""
    root = tmp_path_factory.mktemp("fuzz-template")
    cfg = RunConfig(model=dataclasses.replace(default_config("mlp_ae"), latent_dim=4, hidden=(8,)))
    epochs = tuple({"epoch": float(i), "train_loss": 0.1, "val_loss": 0.1, "train_mse": 0.05, "val_mse": 0.05}
                   for i in (1, 2))
    result = TrainResult(cfg, build_model(cfg.model, (1, 28, 28)), History("done", epochs, 4, 1.5, 300.0, 2),
                         {"mse": 0.05, "ssim": 0.5})
    runs.save_run(result, root, name="template", preview_images=load_dataset(cfg.data)[1].x[:8])
    return next(p for p in root.iterdir())


def fresh_store(template: Path, parent: Path) -> tuple[Path, str, str]:
    """A store with two copies of the template run: (root, id of the one to damage, id of the good one)."""
    root = parent / "store"
    for run_id in ("bad-run", "good-run"):
        shutil.copytree(template, root / run_id)
    return root, "bad-run", "good-run"


def leaves(doc: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON document a value sits, the containers themselves included."""
    out = [path] if path else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += leaves(v, (*path, i))
    return out


def put(doc: Any, path: tuple, value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    if value is DROP:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


def dumps(doc: Any) -> bytes:
    text = json.dumps(doc)  # NaN and Infinity as Python's json writes and reads them
    return text.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000).replace(json.dumps(HUGE), "9" * 5000).encode()


BAD = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12),
    st.sampled_from([DEEP, HUGE, DROP, -1, 0, 2**31, 2**64, 1e308, -1e-308, "", "x" * 5000, [], {}, [[]], [1, 2, 3],
                     [300000], [1, 4096, 4096], {"a": {"b": {"c": 1}}}, "0001-01-01T00:00:00", "9999-12-31"]),
    st.lists(st.one_of(st.integers(-5, 5), st.floats(), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.text(max_size=4), st.one_of(st.integers(), st.floats(), st.none()), max_size=3),
)


def read_like_the_app(root: Path, bad: str, good: str) -> None:
    """Everything the store and the pages do with a run; only RunError may come out of the damaged one."""
    errors: list[RunError] = []
    listed = runs.list_runs(root, errors)
    assert good in [r.id for r in listed] and len(listed) + len(errors) == 2
    try:
        info = runs.load_run(bad, root)
    except RunError:
        return
    runs_table(listed, "Europe/Paris")
    settings_text(info)
    format_duration(info.seconds)
    for measure in ("loss", "mse"):
        loss_curves_figure({"bad": info.history.epochs, "good": runs.load_run(good, root).history.epochs}, measure)
    [f"{k}: {v}" for k, v in info.env.items()]
    try:
        runs.load_model(info, root)
        png = runs.read_preview(bad, root)
        if png is not None:
            enlarge_png(png)
        runs.import_run(runs.export_run(bad, root), root)
    except RunError:
        pass


@FUZZ
@given(data=st.data())
def test_any_malformed_json_field_is_a_run_error_for_that_run_only(template, data):
    fname = data.draw(st.sampled_from(runs.JSON_FILES))
    doc = json.loads((template / fname).read_bytes())
    path = data.draw(st.sampled_from(leaves(doc)))
    put(doc, path, data.draw(BAD))
    with tempfile.TemporaryDirectory() as tmp:
        root, bad, good = fresh_store(template, Path(tmp))
        (root / bad / fname).write_bytes(dumps(doc))
        read_like_the_app(root, bad, good)


@FUZZ
@given(data=st.data())
def test_any_malformed_weights_header_field_is_a_run_error(template, data):
    raw = (template / runs.WEIGHTS).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    path = data.draw(st.sampled_from(leaves(header)))
    put(header, path, data.draw(BAD))
    text = dumps(header)
    with tempfile.TemporaryDirectory() as tmp:
        root, bad, good = fresh_store(template, Path(tmp))
        (root / bad / runs.WEIGHTS).write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
        read_like_the_app(root, bad, good)


@FUZZ
@given(cut=st.integers(0, 2000), junk=st.binary(max_size=64), at=st.integers(0, 2000))
def test_any_damaged_preview_is_a_run_error(template, cut, junk, at):
    png = (template / runs.PREVIEW).read_bytes()
    damaged = png[:at] + junk + png[at + len(junk):] if junk else png[:cut]
    with tempfile.TemporaryDirectory() as tmp:
        root, bad, good = fresh_store(template, Path(tmp))
        (root / bad / runs.PREVIEW).write_bytes(damaged)
        read_like_the_app(root, bad, good)


@pytest.mark.parametrize("fname", runs.JSON_FILES)
def test_deeply_nested_json_hides_no_other_run(template, tmp_path, fname):
    root, bad, good = fresh_store(template, tmp_path)
    (root / bad / fname).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    errors: list[RunError] = []
    assert [r.id for r in runs.list_runs(root, errors)] == [good]
    assert len(errors) == 1 and fname in str(errors[0])


@pytest.mark.parametrize("fname, path, value", [
    ("history.json", ("epochs", 0, "val_loss"), float("nan")),  # a diverged run's loss: shown, not refused
    ("history.json", ("epochs", 1, "train_mse"), float("inf")),
    ("metrics.json", ("metrics", "mse"), float("nan")),
    ("env.json", ("device",), None),
])
def test_odd_but_honest_values_still_load_and_draw(template, tmp_path, fname, path, value):
    root, bad, good = fresh_store(template, tmp_path)
    doc = json.loads((root / bad / fname).read_bytes())
    put(doc, path, value)
    (root / bad / fname).write_bytes(dumps(doc))
    assert runs.load_run(bad, root).id == bad
    read_like_the_app(root, bad, good)


@pytest.mark.parametrize("fname, path, value, message", [
    ("history.json", ("steps",), -3, "steps"),
    ("history.json", ("seconds",), float("inf"), "seconds"),
    ("history.json", ("epochs", 0, "epoch"), float("nan"), "epoch"),
    ("config.json", ("created",), "0001-01-01T00:00:00", "created"),
    ("config.json", ("config", "model", "latent_dim"), 8.5, "latent_dim"),
    ("env.json", ("torch",), [[["nested"]]], "env.json"),
    ("config.json", ("schema_version",), True, "schema_version"),
])
def test_values_pages_cannot_show_are_refused(template, tmp_path, fname, path, value, message):
    root, bad, good = fresh_store(template, tmp_path)
    doc = json.loads((root / bad / fname).read_bytes())
    put(doc, path, value)
    (root / bad / fname).write_bytes(dumps(doc))
    with pytest.raises(RunError, match=message):
        runs.load_run(bad, root)


def test_command_line_warns_about_bad_runs_and_goes_on(template, tmp_path, monkeypatch, capsys):
    root, bad, good = fresh_store(template, tmp_path)
    (root / bad / "history.json").write_bytes(b"[" * 100_000)
    monkeypatch.setenv("AECORE_RUNS_DIR", str(root))
    assert cli.main(["runs"]) == 0
    out, err = capsys.readouterr()
    assert good in out and bad not in out and f"run {bad}" in err and "warning" in err
    assert cli.main(["evaluate", "--limit", "16", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert good in out and f"run {bad}" in err
    assert cli.main(["evaluate", bad, good, "--limit", "16", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert good in out and f"run {bad}" in err
    (root / good / runs.WEIGHTS).write_bytes(b"not tensors")
    assert cli.main(["evaluate", good, "--limit", "16", "--device", "cpu"]) == 1  # nothing left to evaluate
    assert "not a safetensors file" in capsys.readouterr().err
