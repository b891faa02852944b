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
import platform
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import safetensors
import torch
from PIL import Image
from torch import nn

from .config import RunConfig, from_dict
from .train import STATUSES, History, reconstruct

SCHEMA_VERSION = 1
JSON_FILES = ("config.json", "history.json", "metrics.json", "env.json")
WEIGHTS = "weights.safetensors"
PREVIEW = "preview.png"
RUN_FILES = (*JSON_FILES, WEIGHTS, PREVIEW)  # preview.png is optional
MAX_ZIP_BYTES = 200 * 2**20  # total uncompressed size of an imported zip
MAX_HEADER = 100 * 2**20  # safetensors' own limit on its JSON header
MAX_FILE_BYTES = {WEIGHTS: MAX_ZIP_BYTES, PREVIEW: 8 * 2**20, **{n: 16 * 2**20 for n in JSON_FILES}}


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


def clean_name(name: str) -> str:
    name = " ".join(str(name).split())
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


def run_info(run_id: str, path: Path, docs: dict[str, dict[str, Any]], where: str) -> RunInfo:
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
        return RunInfo(run_id, clean_name(c["name"]), path, config, history, metrics, created,
                       {k: v for k, v in docs["env.json"].items() if k != "schema_version"}, shape)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise RunError(f"{where}: its JSON files are malformed ({type(err).__name__}: {err}); "
                       "delete the run or restore it from an export") from err


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"expected a number, got {v!r}")
    return float(v)


def weights_header(data: bytes, where: str) -> dict[str, tuple[int, ...]]:
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


def check_shapes(header: dict[str, tuple[int, ...]], model: nn.Module, where: str) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, unexpected = sorted(expected.keys() - header.keys()), sorted(header.keys() - expected.keys())
    if missing or unexpected:
        raise RunError(f"{where}: {WEIGHTS} does not fit the model in config.json (missing keys: {missing[:5]}, "
                       f"unexpected keys: {unexpected[:5]}); the weights belong to another model")
    for key, shape in expected.items():
        if header[key] != shape:
            raise RunError(f"{where}: weight {key!r} has shape {list(header[key])} but the model in config.json "
                           f"needs {list(shape)}; the weights belong to another configuration")


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
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            if img.width * img.height > 4096 * 4096:
                raise ValueError(f"{img.width}x{img.height} is too large for a preview")
            img.verify()
    except Exception as err:  # PIL raises many types for a broken image
        raise RunError(f"{where}: {PREVIEW} is not a valid PNG ({err}); drop it from the zip or export again") from err


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
