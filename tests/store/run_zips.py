"""Small saved runs and their files as zips, for the store's tests."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

from aecore.config import RunConfig, default_config
from aecore.models import build_model
from aecore.store import runs
from aecore.train import History, TrainResult


def small_run(root: Path, kind: str = "mlp_ae") -> runs.RunInfo:
    cfg = RunConfig(model=dataclasses.replace(default_config(kind), latent_dim=4, hidden=(8,) * (1 + kind.startswith("deep"))))
    history = History("done", ({"epoch": 1, "train_loss": 0.1, "val_loss": 0.1},), 2, 0.5, 100.0, 1)
    return runs.save_run(TrainResult(cfg, build_model(cfg.model, (1, 28, 28)), history, {"mse": 0.05}), root)


def run_files(info: runs.RunInfo) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in info.path.iterdir()}


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()
