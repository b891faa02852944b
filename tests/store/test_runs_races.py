"""The store under two sessions at once and on odd folders: only RunError comes out, and nothing comes back.

Threads race rename, delete, export, load and preview on real run folders; then odd run ids, links that lead
out of the store, pipes, folders and sparse giant files where a run's files should be, and the Runs page
showing what the store refused.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from pathlib import Path

import pytest

from apptest import open_page, texts
from aecore.store import runs
from aecore.config import RunConfig
from aecore.data import load_dataset
from aecore.models import build_model
from aecore.config import default_config
from aecore.store.runs import RunError
from aecore.train import History, TrainResult

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("race-template")
    cfg = RunConfig(model=dataclasses.replace(default_config("mlp_ae"), latent_dim=4, hidden=(8,)))
    result = TrainResult(cfg, build_model(cfg.model, (1, 28, 28)),
                         History("done", ({"epoch": 1.0, "val_mse": 0.05},), 2, 0.5, 100.0, 1), {"mse": 0.05})
    runs.save_run(result, root, name="template", preview_images=load_dataset(cfg.data)[1].x[:8])
    return next(root.iterdir())


def put_run(template: Path, root: Path, run_id: str) -> Path:
    shutil.copytree(template, root / run_id)
    return root / run_id


ACTIONS = {
    "rename": lambda run_id, root: runs.rename_run(run_id, "renamed", root),
    "delete": lambda run_id, root: runs.delete_run(run_id, root),
    "export": lambda run_id, root: runs.export_run(run_id, root),
    "load_model": lambda run_id, root: runs.load_model(run_id, root),
    "read_preview": lambda run_id, root: runs.read_preview(run_id, root),
    "list": lambda run_id, root: runs.list_runs(root),
}
RACERS = ("rename", "rename", "delete", "delete", "export", "load_model", "read_preview", "list")


def test_racing_sessions_get_only_run_errors_and_a_deleted_run_stays_deleted(template, tmp_path):
    root = tmp_path / "store"
    root.mkdir()
    escaped: list[BaseException] = []
    for i in range(150):
        run_id = f"race-{i}"
        put_run(template, root, run_id)
        barrier = threading.Barrier(len(RACERS))
        outcomes: dict[int, object] = {}

        def race(slot: int, action: str) -> None:
            barrier.wait()
            try:
                ACTIONS[action](run_id, root)
                outcomes[slot] = "ok"
            except RunError as err:
                outcomes[slot] = err
            except BaseException as err:  # what the test is about: anything else is a bug
                escaped.append(err)

        threads = [threading.Thread(target=race, args=(slot, a)) for slot, a in enumerate(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        deletes = [outcomes.get(slot) for slot, a in enumerate(RACERS) if a == "delete"]
        assert deletes.count("ok") == 1, deletes  # one session deletes, the other is told it already was
        assert not os.path.lexists(root / run_id), f"{run_id} came back after it was deleted"
        assert run_id not in [r.id for r in runs.list_runs(root)]
    assert not escaped, f"{len(escaped)} raw errors escaped, e.g. {escaped[0]!r}"


def test_each_action_on_a_run_deleted_meanwhile_says_so(template, tmp_path):
    put_run(template, tmp_path, "gone")
    info = runs.load_run("gone", tmp_path)
    runs.delete_run("gone", tmp_path)
    with pytest.raises(RunError, match="deleted"):
        runs.load_model(info, tmp_path)  # a RunInfo a page still holds
    for action in ("rename", "delete", "export", "read_preview", "load_model"):
        with pytest.raises(RunError, match="unknown run id|deleted"):
            ACTIONS[action]("gone", tmp_path)


@pytest.mark.parametrize("run_id", ["", ".", "..", "../x", "a/b", "/etc", "a\x00b", "x" * 300, None, 5, ["a"],
                                    "run\n", "-x", "é", ".tmp-20990101-000000-abcdef"])
def test_odd_run_ids_are_unknown(run_id, template, tmp_path):
    put_run(template, tmp_path, "real")
    for action in ("rename", "delete", "export", "read_preview", "load_model"):
        with pytest.raises(RunError, match="unknown run id"):
            ACTIONS[action](run_id, tmp_path)
    with pytest.raises(RunError, match="unknown run id"):
        runs.load_run(run_id, tmp_path)
    assert [r.id for r in runs.list_runs(tmp_path)] == ["real"]


def test_links_out_of_the_store_are_not_followed(template, tmp_path):
    outside = put_run(template, tmp_path / "elsewhere", "outside")
    root = tmp_path / "store"
    put_run(template, root, "good")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    errors: list[RunError] = []
    assert [r.id for r in runs.list_runs(root, errors)] == ["good"]
    assert len(errors) == 1 and "link" in str(errors[0])
    for action in ("rename", "delete", "export", "read_preview", "load_model"):
        with pytest.raises(RunError, match="link"):
            ACTIONS[action]("linked", root)
    assert runs.load_run("outside", tmp_path / "elsewhere").name == "template"  # untouched
    secret = tmp_path / "secret.txt"
    secret.write_text("not for export")
    for fname in ("config.json", "weights.safetensors", "preview.png"):
        run = put_run(template, root, f"link-{fname[:4]}")
        (run / fname).unlink()
        (run / fname).symlink_to(secret if fname != "config.json" else outside / fname)
        with pytest.raises(RunError, match=f"{fname} is a link"):
            runs.export_run(run.name, root) if fname == "preview.png" else runs.load_model(run.name, root)
    assert secret.read_text() == "not for export"


@pytest.mark.parametrize("fname", ["config.json", "weights.safetensors", "preview.png"])
@pytest.mark.parametrize("kind", ["folder", "fifo", "sparse 5 GB"])
def test_a_run_file_that_is_no_plain_file_is_refused_without_hanging(template, tmp_path, fname, kind):
    run = put_run(template, tmp_path, "odd")
    (run / fname).unlink()
    if kind == "folder":
        (run / fname).mkdir()
    elif kind == "fifo":
        os.mkfifo(run / fname)
    else:
        with open(run / fname, "wb") as f:
            f.truncate(5 * 2**30)
    outcome: list[object] = []

    def attempt() -> None:
        for action in ("export", "read_preview", "load_model"):
            try:
                ACTIONS[action]("odd", tmp_path)
                outcome.append((action, "ok"))
            except RunError:
                outcome.append((action, "RunError"))
            except BaseException as err:
                outcome.append((action, repr(err)))

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), f"the store hung on a {kind} {fname}"
    assert {o for _, o in outcome} <= {"ok", "RunError"}, outcome
    assert "RunError" in {o for _, o in outcome}


def test_an_unwritable_store_is_a_run_error(template, tmp_path):
    data = runs.export_run(put_run(template, tmp_path / "src", "src").name, tmp_path / "src")
    (tmp_path / "file").write_text("a file where the store should be")
    with pytest.raises(RunError, match="cannot create the run store"):
        runs.import_run(data, tmp_path / "file")


def test_runs_page_shows_a_damaged_preview_and_a_vanished_run_as_messages(template, runs_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    run = put_run(template, runs_dir, "20240101-000000-abcdef")
    (run / "preview.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    at = open_page("pages/runs.py")
    assert "preview.png is not a valid PNG" in texts(at.info)
    runs.delete_run(run.name)  # another session deletes it while this one shows it
    at.text_input(key="new_name").input("a new name")
    at.button(key="rename").click().run()
    assert not at.exception and "Could not rename" in texts(at.error)
    put_run(template, runs_dir, run.name)
    at.run()
    at.button(key="delete").click().run()
    runs.delete_run(run.name)
    at.button(key="confirm_delete").click().run()
    assert not at.exception and "Could not delete" in texts(at.error) and "deleted" in texts(at.error)
