"""The run store: one folder per trained model, written atomically and read back without running code.

`save_run(result)` writes `<root>/<id>/` with config, history, metrics and env JSON (each carrying
`schema_version`), the weights as a safetensors `state_dict` and an optional preview PNG. Every write goes
into a dot-named temp folder inside the root and is `os.replace`d into place, so `list_runs()` never sees
half a run. Weights are only ever parsed as safetensors and checked against a model rebuilt from the
config; nothing here unpickles, so a crafted file cannot run code. `export_run`/`import_run` move runs as zips.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import platform
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch
from PIL import Image
from torch import nn

from .config import RunConfig, from_dict, to_dict
from .models import build_model
from .train import STATUSES, History, TrainResult, reconstruct

SCHEMA_VERSION = 1
JSON_FILES = ("config.json", "history.json", "metrics.json", "env.json")
WEIGHTS = "weights.safetensors"
PREVIEW = "preview.png"
RUN_FILES = (*JSON_FILES, WEIGHTS, PREVIEW)  # preview.png is optional
MAX_ZIP_BYTES = 200 * 2**20  # total uncompressed size of an imported zip
MAX_HEADER = 100 * 2**20  # safetensors' own limit on its JSON header
MAX_FILE_BYTES = {WEIGHTS: MAX_ZIP_BYTES, PREVIEW: 8 * 2**20, **{n: 16 * 2**20 for n in JSON_FILES}}
STALE_SECONDS = 24 * 3600  # a temp folder this old belongs to a save that was killed
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


class RunError(ValueError):
    """A run folder, zip or weights file was refused; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class RunInfo:
    id: str
    name: str
    path: Path
    config: RunConfig
    history: History
    metrics: dict[str, float]
    created: str  # ISO 8601, UTC
    env: dict[str, Any]
    input_shape: tuple[int, int, int]  # (C, H, W) the model was built for

    @property
    def status(self) -> str:
        return self.history.status

    @property
    def ok(self) -> bool:
        return self.history.ok

    @property
    def model_kind(self) -> str:
        return self.config.model.kind

    @property
    def dataset(self) -> str:
        return self.config.data.name

    @property
    def latent_dim(self) -> int:
        return self.config.model.latent_dim

    @property
    def epochs_run(self) -> int:
        return len(self.history.epochs)

    @property
    def seconds(self) -> float:
        return self.history.seconds


def runs_dir() -> Path:
    """Root of the store: `AECORE_RUNS_DIR`, default `./runs`."""
    return Path(os.environ.get("AECORE_RUNS_DIR") or "runs")


def default_name(cfg: RunConfig) -> str:
    """A readable run name made from the settings, e.g. 'mlp_ae · fashion-mnist-sample · z64'."""
    return f"{cfg.model.kind} · {cfg.data.name} · z{cfg.model.latent_dim}"


def save_run(result: TrainResult, root: str | Path | None = None, name: str | None = None,
             preview_images: torch.Tensor | None = None) -> RunInfo:
    """Store a trained model as a new run; `preview_images` (N, C, H, W) uint8 adds a preview.png."""
    model = result.model
    shape = getattr(model, "image_shape", None) or (tuple(preview_images.shape[1:]) if preview_images is not None else None)
    if shape is None or len(shape) != 3:
        raise RunError("cannot tell the model's input shape (C, H, W): give the model an image_shape attribute")
    when = datetime.now(timezone.utc)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    files = {
        "config.json": _dump({"name": _clean_name(name or result.config.name or default_name(result.config)),
                              "created": when.isoformat(timespec="microseconds"),
                              "input_shape": list(shape), "config": to_dict(result.config)}),
        "history.json": _dump(dataclasses.asdict(result.history)),
        "metrics.json": _dump({"metrics": {k: float(v) for k, v in result.metrics.items()}}),
        "env.json": _dump(_env(model)),
        WEIGHTS: safetensors.torch.save(tensors),
    }
    if preview_images is not None:
        files[PREVIEW] = _preview_png(model, preview_images, tuple(shape))
    return load_run(_commit(_root(root), files, when), root)


def list_runs(root: str | Path | None = None, errors: list[RunError] | None = None) -> list[RunInfo]:
    """Every readable run, newest first; unreadable folders are skipped (and appended to `errors`)."""
    base = _root(root)
    if not base.is_dir():
        return []
    runs = []
    for path in base.iterdir():
        if path.name.startswith(".") or not path.is_dir():
            continue  # temp folders of saves, imports and deletes in flight
        try:
            runs.append(load_run(path.name, base))
        except RunError as err:
            if errors is not None:
                errors.append(err)
    return sorted(runs, key=lambda r: (r.created, r.id), reverse=True)


def load_run(run_id: str, root: str | Path | None = None) -> RunInfo:
    """A run's metadata (not its weights); RunError if it is missing, incomplete or unreadable."""
    path = _run_path(run_id, root)
    where = f"run {run_id}"
    raw = {}
    for fname in (*JSON_FILES, WEIGHTS):
        if not (path / fname).is_file():
            raise RunError(f"{where} is incomplete: {fname} is missing from {path}. "
                           "Delete the run, or restore the file from an export of it.")
        if fname != WEIGHTS:
            try:
                raw[fname] = (path / fname).read_bytes()
            except OSError as err:
                raise RunError(f"{where}: cannot read {fname} ({err}); check the folder's permissions") from err
    return _info(run_id, path, _parse_json(raw, where), where)


def load_model(run: str | RunInfo, root: str | Path | None = None, device: torch.device | str = "cpu") -> nn.Module:
    """The run's model rebuilt from its config with the stored weights, in eval mode on `device`."""
    info = run if isinstance(run, RunInfo) else load_run(run, root)
    where, path = f"run {info.id}", info.path / WEIGHTS
    model = build_model(info.config.model, info.input_shape)
    try:
        with open(path, "rb") as f:  # only the header: shapes are checked before any tensor is read
            head = f.read(8)
            header = _weights_header(head + f.read(min(int.from_bytes(head, "little"), MAX_HEADER)), where)
    except OSError as err:
        raise RunError(f"{where}: cannot read {WEIGHTS} ({err}); the run may be incomplete, so delete it") from err
    _check_shapes(header, model, where)
    try:
        state = safetensors.torch.load_file(str(path), device="cpu")
    except (safetensors.SafetensorError, OSError, ValueError) as err:
        raise RunError(f"{where}: {WEIGHTS} is damaged ({err}); delete the run or import it again") from err
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()


def rename_run(run_id: str, name: str, root: str | Path | None = None) -> RunInfo:
    """Give a run a new display name (rewrites config.json atomically)."""
    info = load_run(run_id, root)
    doc = json.loads((info.path / "config.json").read_bytes())
    doc["name"] = _clean_name(name)
    tmp = info.path / f".config.json.{secrets.token_hex(4)}.tmp"
    try:
        _write_file(tmp, _dump(doc))
        os.replace(tmp, info.path / "config.json")
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(info.path)
    return load_run(run_id, root)


def delete_run(run_id: str, root: str | Path | None = None) -> None:
    """Remove a run; it leaves listings at once (renamed away), then its files are deleted."""
    path = _run_path(run_id, root)
    trash = path.with_name(f".del-{run_id}-{secrets.token_hex(3)}")
    os.replace(path, trash)
    _fsync_dir(path.parent)
    shutil.rmtree(trash, ignore_errors=True)


def export_run(run_id: str, root: str | Path | None = None) -> bytes:
    """The run's files as a flat zip, for `import_run` here or elsewhere."""
    info = load_run(run_id, root)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for fname in RUN_FILES:
            if (info.path / fname).is_file():
                packed = zipfile.ZIP_DEFLATED if fname.endswith(".json") else zipfile.ZIP_STORED
                zf.write(info.path / fname, fname, compress_type=packed)
    return buf.getvalue()


def import_run(data: bytes, root: str | Path | None = None) -> RunInfo:
    """Add a run from an `export_run` zip under a new id, after checking every file; nothing lands on refusal."""
    where = "the imported zip"
    files = _unzip(data, where)
    docs = _parse_json({n: files[n] for n in JSON_FILES}, where)
    info = _info("import", Path("."), docs, where)
    model = build_model(info.config.model, info.input_shape)
    _check_shapes(_weights_header(files[WEIGHTS], where), model, where)
    try:
        model.load_state_dict(safetensors.torch.load(files[WEIGHTS]), strict=True)
    except (safetensors.SafetensorError, RuntimeError, ValueError) as err:
        raise RunError(f"{where}: {WEIGHTS} is damaged ({err}); export the run again") from err
    if PREVIEW in files:
        _check_png(files[PREVIEW], where)
    when = datetime.now(timezone.utc)
    docs["config.json"]["created"] = when.isoformat(timespec="microseconds")
    files.update({n: _dump({k: v for k, v in d.items() if k != "schema_version"}) for n, d in docs.items()})
    return load_run(_commit(_root(root), files, when), root)


def read_preview(run_id: str, root: str | Path | None = None) -> bytes | None:
    """The run's preview PNG (originals above reconstructions), or None if it has none."""
    path = _run_path(run_id, root) / PREVIEW
    return path.read_bytes() if path.is_file() else None


def _root(root: str | Path | None) -> Path:
    return Path(root) if root is not None else runs_dir()


def _run_path(run_id: str, root: str | Path | None) -> Path:
    base = _root(root)
    if not isinstance(run_id, str) or not _ID.fullmatch(run_id) or not (base / run_id).is_dir():
        raise RunError(f"unknown run id {run_id!r} in {base}; it may have been deleted, so pick one from list_runs()")
    return base / run_id


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name or len(name) > 200:
        raise RunError(f"a run name must have 1 to 200 characters, got {len(name)}")
    return name


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps({"schema_version": SCHEMA_VERSION, **doc}, indent=1, ensure_ascii=False).encode()


def _env(model: nn.Module) -> dict[str, Any]:
    param = next(model.parameters(), None)
    return {"python": platform.python_version(), "torch": torch.__version__, "safetensors": safetensors.__version__,
            "platform": platform.platform(), "device": str(param.device) if param is not None else "cpu",
            "parameters": sum(p.numel() for p in model.parameters())}


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
    root.mkdir(parents=True, exist_ok=True)
    for old in [*root.glob(".tmp-*"), *root.glob(".del-*")]:  # leftovers of killed saves and deletes
        try:
            if time.time() - old.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass  # another process removed it first
    while True:
        run_id = f"{when:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        tmp = root / f".tmp-{run_id}"
        if not (root / run_id).exists():
            try:
                tmp.mkdir()
                break
            except FileExistsError:
                continue
    try:
        for fname, data in files.items():
            _write_file(tmp / fname, data)
        _fsync_dir(tmp)
        os.replace(tmp, root / run_id)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_id


def _parse_json(raw: dict[str, bytes], where: str) -> dict[str, dict[str, Any]]:
    docs = {}
    for fname, data in raw.items():
        try:
            doc = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise RunError(f"{where}: {fname} is not valid JSON ({err}); the file is corrupted, so delete the run "
                           "or restore it from an export") from err
        if not isinstance(doc, dict):
            raise RunError(f"{where}: {fname} must hold a JSON object, got {type(doc).__name__}")
        version = doc.get("schema_version")
        if version != SCHEMA_VERSION:
            raise RunError(f"{where}: {fname} has schema_version {version!r}, but this aecore reads only version "
                           f"{SCHEMA_VERSION}; open it with the aecore version that wrote it, or train the run again")
        docs[fname] = doc
    return docs


def _info(run_id: str, path: Path, docs: dict[str, dict[str, Any]], where: str) -> RunInfo:
    c, h, m = docs["config.json"], docs["history.json"], docs["metrics.json"]
    try:
        config = from_dict(c["config"])
        shape = tuple(c["input_shape"])
        if len(shape) != 3 or not all(type(s) is int and 0 < s <= 4096 for s in shape):
            raise ValueError(f"input_shape must be 3 positive ints (C, H, W), got {c['input_shape']!r}")
        created = str(c["created"])
        datetime.fromisoformat(created)
        extra = set(h) - {f.name for f in dataclasses.fields(History)} - {"schema_version"}
        if extra or h["status"] not in STATUSES:
            raise ValueError(f"unknown history fields {sorted(extra)} or status {h['status']!r}")
        history = History(
            status=h["status"], epochs=tuple({str(k): _number(v) for k, v in e.items()} for e in h["epochs"]),
            steps=int(h["steps"]), seconds=_number(h["seconds"]), images_per_sec=_number(h["images_per_sec"]),
            best_epoch=int(h.get("best_epoch", 0)), message=str(h.get("message", "")))
        metrics = {str(k): _number(v) for k, v in m["metrics"].items()}
        return RunInfo(run_id, _clean_name(c["name"]), path, config, history, metrics, created,
                       {k: v for k, v in docs["env.json"].items() if k != "schema_version"}, shape)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise RunError(f"{where}: its JSON files are malformed ({type(err).__name__}: {err}); "
                       "delete the run or restore it from an export") from err


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"expected a number, got {v!r}")
    return float(v)


def _weights_header(data: bytes, where: str) -> dict[str, tuple[int, ...]]:
    """Shapes by key from a safetensors header (8-byte little-endian length, then JSON), parsed by hand."""
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    try:
        if not 2 <= size <= min(len(data) - 8, MAX_HEADER):
            raise ValueError("bad header length")
        header = json.loads(data[8:8 + size])
        return {k: tuple(int(s) for s in v["shape"]) for k, v in header.items() if k != "__metadata__"}
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as err:
        kind = ("a zip archive as torch.save writes" if data[:2] == b"PK" else
                "a Python pickle" if data[:1] == b"\x80" else "something else")
        raise RunError(f"{where}: {WEIGHTS} is not a safetensors file (it looks like {kind}). It was not opened: "
                       "pickle-based files can run code when loaded. Save weights with save_run, which writes "
                       "safetensors") from err


def _check_shapes(header: dict[str, tuple[int, ...]], model: nn.Module, where: str) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, unexpected = sorted(expected.keys() - header.keys()), sorted(header.keys() - expected.keys())
    if missing or unexpected:
        raise RunError(f"{where}: {WEIGHTS} does not fit the model in config.json (missing keys: {missing[:5]}, "
                       f"unexpected keys: {unexpected[:5]}); the weights belong to another model")
    for key, shape in expected.items():
        if header[key] != shape:
            raise RunError(f"{where}: weight {key!r} has shape {list(header[key])} but the model in config.json "
                           f"needs {list(shape)}; the weights belong to another configuration")


def _unzip(data: bytes, where: str) -> dict[str, bytes]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, TypeError) as err:
        raise RunError(f"{where} is not a zip file ({err}); upload a zip made by export_run") from err
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        for name in names:
            if name not in RUN_FILES:
                raise RunError(f"{where} holds {name!r}, which a run zip never does; it may only hold the flat "
                               f"files {', '.join(RUN_FILES)}")
        if len(set(names)) != len(names):
            raise RunError(f"{where} names a file twice; export the run again")
        missing = [n for n in (*JSON_FILES, WEIGHTS) if n not in names]
        if missing:
            raise RunError(f"{where} lacks {', '.join(missing)}; export the run again with export_run")
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise RunError(f"{where} unpacks to more than {MAX_ZIP_BYTES // 2**20} MB; a run is never that large")
        files = {}
        for info in infos:
            limit = MAX_FILE_BYTES[info.filename]
            try:
                with zf.open(info) as f:  # read at most limit + 1 bytes, whatever the header claims
                    files[info.filename] = f.read(limit + 1)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as err:
                raise RunError(f"{where}: cannot unpack {info.filename} ({err}); export the run again") from err
            if len(files[info.filename]) > limit:
                raise RunError(f"{where}: {info.filename} is larger than {limit // 2**20} MB")
    return files


def _check_png(data: bytes, where: str) -> None:
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if img.width * img.height > 4096 * 4096:
                raise ValueError(f"{img.width}x{img.height} is too large for a preview")
            img.verify()
    except Exception as err:  # PIL raises many types for a broken image
        raise RunError(f"{where}: {PREVIEW} is not a valid PNG ({err}); drop it from the zip or export again") from err


def _preview_png(model: nn.Module, x: torch.Tensor, shape: tuple[int, ...], n: int = 8, pad: int = 2) -> bytes:
    """Originals (top row) over reconstructions (bottom row), `pad` white pixels between tiles."""
    if x.dtype != torch.uint8 or x.ndim != 4 or tuple(x.shape[1:]) != shape or shape[0] not in (1, 3):
        raise RunError(f"preview_images must be uint8 (N, {', '.join(map(str, shape))}) with 1 or 3 channels, "
                       f"got {x.dtype} {tuple(x.shape)}")
    x = x[:n].cpu()
    param = next(model.parameters(), None)
    x_hat = (reconstruct(model, x, param.device if param is not None else "cpu") * 255).round().to(torch.uint8)
    tiles = torch.nn.functional.pad(torch.stack([x, x_hat]), (0, pad, 0, pad), value=255)  # (2, N, C, H+p, W+p)
    R, N, C, H, W = tiles.shape
    grid = tiles.permute(2, 0, 3, 1, 4).reshape(C, R * H, N * W)
    grid = torch.nn.functional.pad(grid, (pad, 0, pad, 0), value=255)
    arr = grid[0].numpy() if C == 1 else grid.permute(1, 2, 0).contiguous().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=True)
    return buf.getvalue()
