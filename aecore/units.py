"""The units of heavy work that run in worker processes (`aecore.workers`) or on Ray (`aecore.cluster`).

Each is `fn(*args, ctx)` with plain arguments (ids, names, configs, arrays) and a plain result (arrays,
dicts, dataclasses of them, safetensors bytes): the serving process sends the names of things, never a
model, and keeps every write to the run store. Importing this module imports torch, the models and the map
libraries, which is what a worker does once as it starts, so no task pays for it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from . import latent, machine_speed, settings
from .anomaly import ErrorReport, OneClassResult, error_report, one_class_demo
from .config import DataConfig, RunConfig
from .data import Split, load_dataset, require_present
from .demo_pictures import DEMO_NAME, write_demo_pictures
from .device import make_adam, pick_device, set_threads
from .generate import CodeMixture, mixture_of_codes
from .latent import MapSettings, Projection
from .models import build_model
from .own_pictures import CollectionError, CollectionOptions, add_collection
from .scoring import evaluate_per_image
from .store.runs import load_model
from .train import TrainEvent, TrainResult, train_run


def train_job(cfg: RunConfig, ctx: Any) -> dict:
    """One training job through `train_run`; each event goes back as a report's detail, and the model as its
    weights (safetensors bytes), only when it may be saved. A stop sent with True keeps the partial model."""
    set_threads()

    def on_event(e: TrainEvent) -> None:
        ctx.publish(e.step / e.total_steps if e.total_steps else 0.0, f"epoch {e.epoch}", e)

    result = train_run(cfg, pick_device(), on_event, ctx.should_stop, previews=True,
                       keep_partial=lambda: bool(ctx.stop_note))
    tensors = {k: v.detach().cpu().contiguous() for k, v in result.model.state_dict().items()}
    rest = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name not in ("config", "model")}
    return {"input_shape": tuple(result.model.image_shape), "result": rest,
            "weights": safetensors.torch.save(tensors) if result.savable else None}


def train_result(cfg: RunConfig, out: dict) -> TrainResult:
    """`train_job`'s result with its model rebuilt from the weights (an untrained one when none came)."""
    model = build_model(cfg.model, out["input_shape"])
    if out["weights"] is not None:
        model.load_state_dict(safetensors.torch.load(out["weights"]), strict=True)
    return TrainResult(cfg, model, **out["result"])


def one_class(normal: int, dataset: str, epochs: int, seed: int, ctx: Any) -> OneClassResult:
    """The Anomalies page's demo: a small model trained on one class, then every test image scored."""
    return one_class_demo(normal, dataset, epochs, seed, on_progress=ctx.report, should_stop=ctx.should_stop)


def scores(run_id: str, dataset: str, ctx: Any) -> dict[str, np.ndarray]:
    """Every test image of the dataset scored through the run's model: `{metric: (N,)}`."""
    split = test_split(dataset)
    ctx.report(0.0, f"{len(split):,} images")
    return evaluate_per_image(load_model(run_id), split)


def errors(run_id: str, dataset: str, k: int, ctx: Any) -> ErrorReport:
    """Each test image's reconstruction error through the run's model and the k worst."""
    split = test_split(dataset)
    ctx.report(0.0, f"{len(split):,} images")
    return error_report(load_model(run_id), split, k=k)


def projection(z: np.ndarray, method: str, dims: int, settings: MapSettings, ctx: Any) -> Projection:
    """Codes laid out as map points; a one-number code is laid out as a strip."""
    if z.shape[1] == 1:
        warning = latent.standardise(z)[2]  # DegenerateCodes when every code is the same
        return Projection(latent.strip_points(z), np.arange(len(z)), "strip", warning=warning)
    return latent.project(z, method, dims, settings=settings, on_progress=ctx.report)


def mixture(run_id: str, dataset: str, components: int, seed: int, n: int, ctx: Any) -> CodeMixture:
    """A mixture of `components` curves fitted to the codes of n of the dataset's training images."""
    train, _ = load_dataset(DataConfig(name=dataset))
    return mixture_of_codes(load_model(run_id), train, components, seed, n=n, on_progress=ctx.report)


def measure_speed(configs: tuple[RunConfig, ...], device: str, path: str, ctx: Any) -> None:
    """Measure the set-ups here, where training runs, and keep the costs in `path`."""
    set_threads()
    machine_speed.calibrate(configs, device, Path(path), on_progress=ctx.report, should_stop=ctx.should_stop)


def add_pictures(name: str, path: str, options: CollectionOptions, source_name: str, owner: str,
                 remove_after: bool, ctx: Any) -> dict:
    """Make a folder or zip into a kept collection: `{"info": CollectionInfo}`, or `{"refused": sentence}` for
    pictures that cannot make one. An uploaded zip (`remove_after`) is deleted when done either way."""
    try:
        info = add_collection(name, path, options, on_progress=ctx.report, source_name=source_name, owner=owner)
        return {"info": info}
    except CollectionError as err:
        return {"refused": str(err)}
    finally:
        if remove_after:
            Path(path).unlink(missing_ok=True)


def add_demo_pictures(owner: str, ctx: Any) -> dict:
    """The demo photo collection (`aecore.demo_pictures`), written to a temporary folder and added like any other."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx.report(0.0, "Cutting the photos into pictures")
        folder = write_demo_pictures(Path(tmp) / "photos")
        return add_pictures(DEMO_NAME, str(folder), CollectionOptions(), "scikit-image photos", owner, False, ctx)


def warm(ctx: Any = None) -> None:
    """A worker's first Adam step, as it starts: the first optimiser in a process imports torch._dynamo."""
    layer = torch.nn.Linear(4, 4)
    opt = make_adam(layer.parameters(), 1e-3, 0.0, torch.device("cpu"))
    layer(torch.ones(2, 4)).square().mean().backward()
    opt.step()


def test_split(dataset: str) -> Split:
    """The dataset's test images, kept for the next task in this worker."""
    require_present(dataset)
    return _test_split(dataset, str(settings.data_dir()))


@lru_cache(maxsize=4)
def _test_split(dataset: str, _folder: str) -> Split:
    return load_dataset(DataConfig(name=dataset))[1]
