"""What a run folder holds, and how each of its files is read and checked without running code.

The JSON documents carry `schema_version`; the weights are safetensors, whose header is parsed by hand and
checked against a model rebuilt from the config before any tensor is read; the preview is a PNG; a run
travels as a flat zip of these files, unpacked with limits on names and sizes. Nothing here touches the
store (that is `runs.py`), and nothing here unpickles.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import platform
import reprlib
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import safetensors
import torch
from PIL import Image
from torch import nn

from ..config import RunConfig, from_dict
from ..infer import reconstruct
from ..owners import check_owner
from ..train import STATUSES, History
from .limits import (MAX_CHANNELS, MAX_DEPTH, MAX_EPOCHS, MAX_JSON_BYTES, MAX_PREVIEW_BYTES, MAX_PREVIEW_PIXELS,
                     MAX_SIDE, MAX_ZIP_BYTES, RunError)

SCHEMA_VERSION = 1
JSON_FILES = ("config.json", "history.json", "metrics.json", "env.json")
WEIGHTS = "weights.safetensors"
PREVIEW = "preview.png"
RUN_FILES = (*JSON_FILES, WEIGHTS, PREVIEW)  # preview.png is optional
MAX_FILE_BYTES = {WEIGHTS: MAX_ZIP_BYTES, PREVIEW: MAX_PREVIEW_BYTES, **{n: MAX_JSON_BYTES for n in JSON_FILES}}


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
    owner: str = ""  # who trained it (aecore.owners); "" for runs from before owners, scripts' and imported ones

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


def clean_name(name: str) -> str:
    if not isinstance(name, str):
        raise RunError(f"a run name must be text, got {reprlib.repr(name)}")
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise RunError(f"a run name must have 1 to 200 characters, got {len(name)}")
    return name


def dump_json(doc: dict[str, Any]) -> bytes:
    return json.dumps({"schema_version": SCHEMA_VERSION, **doc}, indent=1, ensure_ascii=False).encode()


def env_info(model: nn.Module) -> dict[str, Any]:
    param = next(model.parameters(), None)
    return {"python": platform.python_version(), "torch": torch.__version__, "safetensors": safetensors.__version__,
            "platform": platform.platform(), "device": str(param.device) if param is not None else "cpu",
            "parameters": sum(p.numel() for p in model.parameters())}


def parse_json(raw: dict[str, bytes], where: str) -> dict[str, dict[str, Any]]:
    docs = {}
    for fname, data in raw.items():
        try:
            if len(data) > MAX_JSON_BYTES:
                raise ValueError(f"it is larger than {MAX_JSON_BYTES // 2**20} MB")
            doc = json.loads(data)  # RecursionError for deep nesting, ValueError for a number of 5000 digits
            if _depth(doc) > MAX_DEPTH:
                raise ValueError(f"it nests more than {MAX_DEPTH} levels deep")
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            raise RunError(f"{where}: {fname} is not valid JSON ({reprlib.repr(str(err))}); the file is corrupted, "
                           "so delete the run or restore it from an export") from err
        if not isinstance(doc, dict):
            raise RunError(f"{where}: {fname} must hold a JSON object, got {type(doc).__name__}")
        version = doc.get("schema_version")
        if type(version) is not int or version != SCHEMA_VERSION:
            raise RunError(f"{where}: {fname} has schema_version {version!r}, but this aecore reads only version "
                           f"{SCHEMA_VERSION}; open it with the aecore version that wrote it, or train the run again")
        docs[fname] = doc
    return docs


def _depth(doc: Any) -> int:
    """How deep lists and objects nest, walked without recursion."""
    deepest, todo = 0, [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                todo.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def run_info(run_id: str, path: Path, docs: dict[str, dict[str, Any]], where: str) -> RunInfo:
    c, h, m = docs["config.json"], docs["history.json"], docs["metrics.json"]
    try:
        config = from_dict(c["config"])
        shape = c["input_shape"]
        if (not isinstance(shape, list) or len(shape) != 3 or not all(type(s) is int for s in shape)
                or not (1 <= shape[0] <= MAX_CHANNELS and 1 <= shape[1] <= MAX_SIDE and 1 <= shape[2] <= MAX_SIDE)):
            raise ValueError(f"input_shape must be (C, H, W) with 1 to {MAX_CHANNELS} channels and sides of 1 to "
                             f"{MAX_SIDE} px, got {reprlib.repr(shape)}")
        created = datetime.fromisoformat(c["created"])
        created = (created if created.tzinfo else created.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
        if not 1970 <= created.year <= 2200:  # pandas, which draws the tables, stops at 2262
            raise ValueError(f"created must be a date from 1970 to 2200, got {c['created']!r}")
        extra = set(h) - {f.name for f in dataclasses.fields(History)} - {"schema_version"}
        if extra or h["status"] not in STATUSES:
            raise ValueError(f"unknown history fields {sorted(extra)} or status {reprlib.repr(h['status'])}")
        if not isinstance(h["epochs"], list) or len(h["epochs"]) > MAX_EPOCHS:
            raise ValueError(f"history epochs must be a list of at most {MAX_EPOCHS} rows")
        if not isinstance(h.get("message", ""), str):
            raise ValueError(f"history message must be text, got {reprlib.repr(h['message'])}")
        history = History(
            status=h["status"], epochs=tuple(_epoch_row(e) for e in h["epochs"]), steps=_count(h["steps"], "steps"),
            seconds=_amount(h["seconds"], "seconds"), images_per_sec=_amount(h["images_per_sec"], "images_per_sec"),
            best_epoch=_count(h.get("best_epoch", 0), "best_epoch", MAX_EPOCHS), message=h.get("message", ""))
        metrics = {_key(k): _number(v) for k, v in m["metrics"].items()}
        env = {_key(k): _plain(v) for k, v in docs["env.json"].items() if k != "schema_version"}
        return RunInfo(run_id, clean_name(c["name"]), path, config, history, metrics,
                       created.isoformat(timespec="microseconds"), env, tuple(shape),  # type: ignore[arg-type]
                       check_owner(c.get("owner", "")))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
        raise RunError(f"{where}: its JSON files are malformed ({type(err).__name__}: {err}); they were damaged or "
                       "edited by hand, so export the run again where it was made, or delete it") from err


def _number(v: Any) -> float:
    """Any JSON number: a diverged run's losses are NaN or infinite, and are shown as such."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"expected a number, got {reprlib.repr(v)}")
    return float(v)


def _amount(v: Any, what: str) -> float:
    """A finite number at least 0 (seconds, speeds): pages format these as durations."""
    x = _number(v)
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{what} must be a finite number at least 0, got {v!r}")
    return x


def _count(v: Any, what: str, hi: int = 2**53) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
        raise ValueError(f"{what} must be a whole number from 0 to {hi}, got {reprlib.repr(v)}")
    return v


def _key(k: str) -> str:
    if len(k) > 100:
        raise ValueError(f"a key of {len(k)} characters is not a metric or setting name")
    return k


def _plain(v: Any) -> Any:
    """An env.json value: text, a number, true/false or null, as save_run writes; pages show them as text."""
    if v is not None and not isinstance(v, (str, int, float)) or isinstance(v, str) and len(v) > 1000:
        raise ValueError(f"env.json values must be short text or numbers, got {reprlib.repr(v)}")
    return v


def _epoch_row(row: Any) -> dict[str, float]:
    if not isinstance(row, dict):
        raise TypeError(f"a history row must be an object, got {reprlib.repr(row)}")
    out = {_key(k): _number(v) for k, v in row.items()}
    if not ("epoch" in out and out["epoch"].is_integer() and 1 <= out["epoch"] <= MAX_EPOCHS):
        raise ValueError(f"each history row needs an epoch number from 1 to {MAX_EPOCHS}, got {reprlib.repr(row)}")
    return out


def unzip_run(data: bytes, where: str) -> dict[str, bytes]:
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


def check_png(data: bytes, where: str) -> None:
    """A PNG small enough to enlarge for the page, decoded in full (verify alone misses broken pixel data)."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if img.width * img.height > MAX_PREVIEW_PIXELS:
                raise ValueError(f"{img.width}x{img.height} is too large for a preview")
            img.verify()
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            img.load()
    except Exception as err:  # PIL raises many types for a broken image
        raise RunError(f"{where}: {PREVIEW} is not a valid PNG ({err}); delete that file, or export the run again "
                       "where it was made") from err


def preview_png(model: nn.Module, x: torch.Tensor, shape: tuple[int, ...], n: int = 8, pad: int = 2) -> bytes:
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
