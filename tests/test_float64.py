"""No float64 tensor on the device path: Apple's MPS has no float64, so one such tensor fails the whole job.

Every torch op run inside training, scoring, encoding, decoding and sampling is watched by a dispatch
mode that records any op whose result is float64. It runs on the CPU, where float64 works, so the
check catches what would fail on MPS without needing a Mac. Host-side float64 stays in numpy.
"""

from __future__ import annotations

import dataclasses
import traceback

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from aecore.anomaly import error_report, reconstruction_errors
from aecore.config import DataConfig, RunConfig, TrainConfig
from aecore.data import load_dataset
from aecore.denoise import denoise_demo
from aecore.generate import manifold_grid, sample_prior
from aecore.latent import decode_codes, encode_split, interpolate
from aecore.scoring import evaluate, evaluate_per_image
from aecore.models import MODELS
from aecore.config import default_config
from aecore.infer import reconstruct_image
from aecore.train import train_run

DATA = DataConfig(name="fashion-mnist-sample", limit_train=64, limit_test=32)


class NoFloat64(TorchDispatchMode):
    """Records every op whose result is a float64 tensor, with the aecore line that asked for it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if any(isinstance(t, torch.Tensor) and t.dtype == torch.float64 for t in tree_leaves(out)):
            where = [f"{'/'.join(f.filename.rsplit('/', 2)[-2:])}:{f.lineno} {f.line}" for f in traceback.extract_stack()
                     if "/aecore/" in f.filename]
            self.found.append(f"{func}: {where[-1] if where else 'outside aecore'}")
        return out


def run_watched(fn, *args, **kwargs):
    with NoFloat64() as mode:
        result = fn(*args, **kwargs)
    assert not mode.found, "float64 tensors made:\n" + "\n".join(dict.fromkeys(mode.found))
    return result


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_the_device_path_makes_no_float64_tensor(kind: str) -> None:
    cfg = RunConfig(DATA, dataclasses.replace(default_config(kind), latent_dim=2),
                    TrainConfig(epochs=2, batch_size=16, max_steps=6, val_fraction=0.25, patience=1,
                                noise="gaussian", noise_level=0.1))
    result = run_watched(train_run, cfg, "cpu")
    assert result.history.finished and result.metrics["ssim"] == result.metrics["ssim"]  # 6 steps: maybe no_better
    model, (_, test) = result.model, load_dataset(DATA)

    run_watched(evaluate, model, test, "cpu")
    run_watched(evaluate_per_image, model, test, "cpu")
    codes = run_watched(encode_split, model, test, 16, "cpu")
    run_watched(decode_codes, model, codes.z, "cpu")
    run_watched(decode_codes, model, codes.z.astype(np.float64), "cpu")
    run_watched(interpolate, model, codes.z[0], codes.z[1], 4, "cpu")
    run_watched(manifold_grid, model, 3, codes=codes.z.astype(np.float64), device="cpu")
    if hasattr(model, "sample"):
        run_watched(sample_prior, model, 4, 0, "cpu")
        run_watched(model.sample, 4)
    run_watched(reconstruction_errors, model, test, "cpu")
    run_watched(error_report, model, test, 4, "cpu")
    run_watched(denoise_demo, model, test, "salt_pepper", 0.2, 2, 8, 0, "cpu")
    image = test.x[0, 0].numpy()
    run_watched(reconstruct_image, model, image, "cpu")
    run_watched(reconstruct_image, model, image / 255.0, "cpu")  # a float64 array from numpy arithmetic


def test_bf16_training_makes_no_float64_tensor() -> None:
    cfg = RunConfig(DATA, default_config("conv_ae"), TrainConfig(epochs=1, batch_size=16, max_steps=2, bf16=True))
    assert run_watched(train_run, cfg, "cpu").history.finished


def test_the_guard_sees_a_float64_tensor() -> None:
    with pytest.raises(AssertionError, match="float64 tensors made"):
        run_watched(lambda: torch.ones(2, dtype=torch.float32) * torch.ones(2, dtype=torch.float64))
