"""The run store: one folder per trained model, written atomically and read back without running code.

`save_run(result)` writes `<root>/<id>/` with config, history, metrics and env JSON (each carrying
`schema_version`), the weights as a safetensors `state_dict` and an optional preview PNG. Every write goes
into a dot-named temp folder inside the root and is `os.replace`d into place, so `list_runs()` never sees
half a run. Weights are only ever parsed as safetensors and checked against a model rebuilt from the
config; nothing here unpickles, so a crafted file cannot run code. `export_run`/`import_run` move runs as zips.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import secrets
import shutil
import stat
import time
import zipfile
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path

import safetensors
import safetensors.torch
import torch
from torch import nn

from ..config import to_dict
from .format import (JSON_FILES, MAX_FILE_BYTES, PREVIEW, RUN_FILES, SCHEMA_VERSION, WEIGHTS, RunError, RunInfo,
                         check_png, clean_name, dump_json, env_info, parse_json, preview_png, run_info, unzip_run)
from ..failures import os_reason
from ..names import default_name, unique_name
from ..owners import check_owner
from ..settings import runs_dir
from ..train import TrainResult
from . import collections
from .limits import check_size
from .weights import model_from_weights

__all__ = ["JSON_FILES", "PREVIEW", "RUN_FILES", "SCHEMA_VERSION", "WEIGHTS", "RunError", "RunInfo", "default_name",
           "delete_run", "export_run", "import_run", "list_runs", "load_model", "load_run", "read_preview",
           "rename_run", "runs_dir", "runs_of", "save_run"]


STALE_SECONDS = 24 * 3600  # a temp folder this old belongs to a save that was killed
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def save_run(result: TrainResult, root: str | Path | None = None, name: str | None = None,
             preview_images: torch.Tensor | None = None, owner: str = "") -> RunInfo:
    """Store a trained model as a new run; `preview_images` (N, C, H, W) uint8 adds a preview.png, and `owner`
    (aecore.owners) says who may change it on a shared server."""
    owner = check_owner(owner)
    model = result.model
    shape = getattr(model, "image_shape", None) or (tuple(preview_images.shape[1:]) if preview_images is not None else None)
    if shape is None or len(shape) != 3:
        raise RunError("cannot tell the model's input shape (C, H, W): give the model an image_shape attribute")
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    check_size(sum(t.numel() for t in tensors.values()), "this run")  # one it could not load back is refused now
    when = datetime.now(timezone.utc)
    files = {
        "config.json": dump_json({"name": unique_name(clean_name(name or result.config.name or default_name(result.config)),
                                              taken_names(root)),
                              "created": when.isoformat(timespec="microseconds"),
                              "input_shape": list(shape), "config": to_dict(result.config),
                              **({"owner": owner} if owner else {})}),
        "history.json": dump_json(dataclasses.asdict(result.history)),
        "metrics.json": dump_json({"metrics": {k: float(v) for k, v in result.metrics.items()}}),
        "env.json": dump_json(env_info(model)),
        WEIGHTS: safetensors.torch.save(tensors),
    }
    if preview_images is not None:
        files[PREVIEW] = preview_png(model, preview_images, tuple(shape))
    return load_run(_commit(_root(root), files, when), root)


def _config_docs(root: str | Path | None) -> Iterator[dict]:
    """Each run's config.json alone, as a dict (quick with hundreds of runs); damaged ones are left to list_runs."""
    base = _root(root)
    try:
        paths = [p for p in base.iterdir() if not p.name.startswith(".")] if base.is_dir() else []
    except OSError:
        return
    for path in paths:
        try:
            yield parse_json({"config.json": _read(path / "config.json", f"run {path.name}")}, path.name)["config.json"]
        except RunError:
            continue


def taken_names(root: str | Path | None = None) -> set[str]:
    """The names of the runs in the store."""
    names = set()
    for doc in _config_docs(root):
        try:
            names.add(clean_name(doc["name"]))
        except (RunError, KeyError, TypeError):
            continue  # a damaged run is listed, and said so, by list_runs
    return names


def runs_of(owner: str, root: str | Path | None = None) -> int:
    """How many runs in the store `owner` trained or added (aecore.owners); an imported run has no owner, but
    counts for whoever added it."""
    if not owner:
        return 0
    return sum(1 for doc in _config_docs(root) if owner in (doc.get("owner"), doc.get("added_by")))


def list_runs(root: str | Path | None = None, errors: list[RunError] | None = None) -> list[RunInfo]:
    """Every readable run, newest first; unreadable folders are skipped (and appended to `errors`)."""
    base = _root(root)
    if not base.is_dir():
        return []
    runs = []
    try:
        paths = list(base.iterdir())
    except OSError as err:
        paths = []
        if errors is not None:
            errors.append(RunError(f"cannot list the runs in {base} ({err.strerror}); check the folder's permissions"))
    for path in paths:
        if path.name.startswith(".") or not path.is_dir():
            continue  # temp folders of saves, imports and deletes in flight
        try:
            runs.append(load_run(path.name, base))
        except RunError as err:
            if errors is not None and os.path.lexists(path):  # a run deleted meanwhile is simply gone
                errors.append(err)
    return sorted(runs, key=lambda r: (r.created, r.id), reverse=True)


def load_run(run_id: str, root: str | Path | None = None) -> RunInfo:
    """A run's metadata (not its weights); RunError if it is missing, incomplete or unreadable."""
    path = _run_path(run_id, root)
    where = f"run {run_id}"
    raw = {fname: _read(path / fname, where) for fname in JSON_FILES}
    _read(path / WEIGHTS, where, open_only=True)
    return run_info(run_id, path, parse_json(raw, where), where)


def load_model(run: str | RunInfo, root: str | Path | None = None, device: torch.device | str = "cpu") -> nn.Module:
    """The run's model rebuilt from its config with the stored weights, in eval mode on `device`."""
    info = run if isinstance(run, RunInfo) else load_run(run, root)
    where = f"run {info.id}"
    return model_from_weights(info, _read(info.path / WEIGHTS, where), where).to(device).eval()


def rename_run(run_id: str, name: str, root: str | Path | None = None) -> RunInfo:
    """Give a run a new display name (rewrites config.json atomically)."""
    info = load_run(run_id, root)
    where = f"run {run_id}"
    doc = parse_json({"config.json": _read(info.path / "config.json", where)}, where)["config.json"]
    doc["name"] = clean_name(name)
    if doc["name"] != info.name and doc["name"] in taken_names(root):
        raise RunError(f"another run is already called {doc['name']!r}; choose another name")
    tmp = info.path / f".config.json.{secrets.token_hex(4)}.tmp"
    try:
        _write_file(tmp, dump_json(doc))
        os.replace(tmp, info.path / "config.json")
        _fsync_dir(info.path)
    except FileNotFoundError as err:  # the folder went away: never recreate it
        raise RunError(f"{where} was deleted while it was being renamed, perhaps in another window") from err
    except OSError as err:
        raise RunError(f"{where}: cannot rename it: {os_reason(err)}") from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return load_run(run_id, root)


def delete_run(run_id: str, root: str | Path | None = None) -> None:
    """Remove a run; it leaves listings at once (renamed away), then its files are deleted."""
    path = _run_path(run_id, root)
    trash = path.with_name(f".del-{run_id}-{secrets.token_hex(3)}")
    try:
        os.replace(path, trash)
        _fsync_dir(path.parent)
    except FileNotFoundError as err:
        raise RunError(f"run {run_id} was already deleted, perhaps in another window") from err
    except OSError as err:
        raise RunError(f"run {run_id}: cannot delete it: {os_reason(err)}") from err
    shutil.rmtree(trash, ignore_errors=True)


def export_run(run_id: str, root: str | Path | None = None) -> bytes:
    """The run's files as a flat zip, for `import_run` here or elsewhere; its comment names the dataset it needs
    when that is a person's picture collection, which the zip does not carry."""
    info = load_run(run_id, root)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.comment = needs_text(info.dataset).encode("utf-8")[:60_000]
        for fname in RUN_FILES:
            data = _read(info.path / fname, f"run {run_id}", missing_ok=fname == PREVIEW)
            if data is not None:
                zf.writestr(fname, data, compress_type=zipfile.ZIP_DEFLATED if fname.endswith(".json") else zipfile.ZIP_STORED)
    return buf.getvalue()


def needs_text(dataset: str) -> str:
    """What a run of `dataset` needs beside its own files: "" for a built-in dataset; for a picture collection, its
    name and id and where to add it."""
    if not collections.is_collection_id(dataset):
        return ""
    try:
        info = collections.read_info(dataset)
        about = (f"{info.name!r}, {len(info.classes)} classes ({', '.join(info.classes[:20])}), {info.size}x{info.size} "
                 f"{'colour' if info.channels == 3 else 'grey'}, from {info.source!r}")
    except collections.CollectionError:
        about = "deleted from the server it was trained on"
    return (f"This model learned from a picture collection, {dataset} ({about}). Add the same pictures where it is "
            "imported (the Your pictures page, or python -m aecore datasets add) to see it on every page.")


def import_run(data: bytes, root: str | Path | None = None, added_by: str = "") -> RunInfo:
    """Add a run from an `export_run` zip under a new id, after checking every file; nothing lands on refusal.
    It has no owner here (aecore.owners), whoever owned it where it was made: on a shared server only the
    teacher may change it."""
    where = "the imported zip"
    files = unzip_run(data, where)
    docs = parse_json({n: files[n] for n in JSON_FILES}, where)
    model_from_weights(run_info("import", Path("."), docs, where), files[WEIGHTS], where)
    if PREVIEW in files:
        check_png(files[PREVIEW], where)
    when = datetime.now(timezone.utc)
    docs["config.json"]["created"] = when.isoformat(timespec="microseconds")
    docs["config.json"].pop("owner", None)
    docs["config.json"].pop("added_by", None)
    if check_owner(added_by):
        docs["config.json"]["added_by"] = added_by  # counted against whoever added it, never theirs to change
    files.update({n: dump_json({k: v for k, v in d.items() if k != "schema_version"}) for n, d in docs.items()})
    return load_run(_commit(_root(root), files, when), root)


def read_preview(run_id: str, root: str | Path | None = None) -> bytes | None:
    """The run's preview PNG (originals above reconstructions), or None if it has none."""
    where = f"run {run_id}"
    data = _read(_run_path(run_id, root) / PREVIEW, where, missing_ok=True)
    if data is not None:
        check_png(data, where)
    return data


def _root(root: str | Path | None) -> Path:
    return Path(root) if root is not None else runs_dir()


def _run_path(run_id: str, root: str | Path | None) -> Path:
    """The run's folder: a plain folder directly in the root, never a link that leads elsewhere."""
    base = _root(root)
    unknown = RunError(f"unknown run id {run_id!r} in {base}: it may have been deleted, perhaps in another window; "
                       "pick another run")
    if not isinstance(run_id, str) or not _ID.fullmatch(run_id):
        raise unknown
    try:
        mode = os.lstat(base / run_id).st_mode
    except OSError:
        raise unknown from None
    if stat.S_ISLNK(mode):
        raise RunError(f"run {run_id} in {base} is a link to another folder, which the store does not follow; "
                       "move the run folder itself into the store")
    if not stat.S_ISDIR(mode):
        raise unknown
    return base / run_id


def _read(path: Path, where: str, missing_ok: bool = False, open_only: bool = False) -> bytes | None:
    """One of a run's files, read only if it is a plain file (not a link, folder or pipe) within its size bound."""
    limit = MAX_FILE_BYTES[path.name]
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # a pipe must not block us
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise RunError(f"{where}: {path.name} is a link, which the store does not follow; a run holds plain files")
        fd = os.open(path, flags)
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise RunError(f"{where} was deleted meanwhile, perhaps in another window; pick one from the list") from None
        if missing_ok:
            return None
        raise RunError(f"{where} is incomplete: {path.name} is missing from {path.parent}. "
                       "Delete the run, or restore the file from an export of it.") from None
    except OSError as err:
        raise RunError(f"{where}: cannot read {path.name} ({err.strerror}); check the folder's permissions") from err
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RunError(f"{where}: {path.name} is not a plain file; delete the run or restore it from an export")
        if info.st_size > limit:
            raise RunError(f"{where}: {path.name} is larger than {limit // 2**20} MB, which no run's file is; "
                           "delete the run or restore it from an export")
        if open_only:
            return None
        with open(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as err:
        raise RunError(f"{where}: cannot read {path.name} ({err.strerror})") from err
    finally:
        os.close(fd)
    if len(data) > limit:
        raise RunError(f"{where}: {path.name} grew past {limit // 2**20} MB while it was read")
    return data


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name == "posix":  # a directory cannot be opened for fsync on Windows
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _commit(root: Path, files: dict[str, bytes], when: datetime) -> str:
    """Write files into `.tmp-<id>` inside root, then rename it to `<id>` in one step; returns the id."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create the run store {root} ({err.strerror}); set AECORE_RUNS_DIR to a folder "
                       "you can write") from err
    for old in [*root.glob(".tmp-*"), *root.glob(".del-*")]:  # leftovers of killed saves and deletes
        try:
            if time.time() - old.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another process removed it first
    try:
        while True:
            run_id = f"{when:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
            tmp = root / f".tmp-{run_id}"
            if not (root / run_id).exists():
                try:
                    tmp.mkdir()
                    break
                except FileExistsError:
                    continue
    except OSError as err:
        raise RunError(f"cannot write the run into {root}: {os_reason(err)}") from err
    try:
        for fname, data in files.items():
            _write_file(tmp / fname, data)
        _fsync_dir(tmp)
        os.replace(tmp, root / run_id)
        _fsync_dir(root)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RunError(f"cannot write the run into {root}: {os_reason(err)}") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_id


