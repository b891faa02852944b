"""Frozen, JSON-only configs for data, model and training, and their dict round trip.

Every entry point (Python, command line, app) builds a `RunConfig` and hands it to aecore;
`to_dict`/`from_dict` are how configs travel to disk and back.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import reprlib
from dataclasses import dataclass, field
from typing import Any

from .models import DEFAULTS, MODEL_KINDS, SSIM_LOSSES, VARIATIONAL_KINDS  # noqa: F401 (the kinds, re-exported)
from .store.collections import is_collection_id
from .store.limits import MAX_EPOCHS, MAX_IMAGES, MAX_LATENT, MAX_LAYERS, MAX_WIDTH

DATASET_NAMES = ("fashion-mnist-sample", "mnist-sample", "digits", "fashion-mnist", "mnist", "cifar-10")
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "elu", "tanh")
OUTPUTS = ("sigmoid", "clamp")
RECON_LOSSES = ("mse", "bce", *SSIM_LOSSES)
NORMS = ("none", "batch")
UPSAMPLES = ("transpose", "nearest")
LR_SCHEDULES = ("constant", "one_cycle", "cosine")
NOISE_KINDS = ("none", "gaussian", "salt_pepper", "mask")


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}")


def _check_range(what: str, value: float, lo: float, hi: float = math.inf) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {reprlib.repr(value)}")
    if not (lo <= value <= hi) or (isinstance(value, float) and not math.isfinite(value)):
        bound = f"at least {lo}" if hi == math.inf else f"between {lo} and {hi}"
        raise ValueError(f"{what} must be {bound}, got {value!r}")


def _check_int(what: str, value: int, lo: int, hi: int) -> None:
    """A whole number in [lo, hi]: sizes decide how much memory a model or a loader asks for."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be a whole number, got {reprlib.repr(value)}")
    _check_range(what, value, lo, hi)



@dataclass(frozen=True)
class DataConfig:
    name: str = "fashion-mnist-sample"  # key in DATASET_NAMES, or a picture collection's id (pictures-<hash>)
    download: bool = False  # torchvision sets only: fetch when absent (needs internet)
    limit_train: int = 0  # keep the first N training images; 0 keeps all
    limit_test: int = 0  # keep the first N test images; 0 keeps all

    def __post_init__(self) -> None:
        if not (isinstance(self.name, str) and is_collection_id(self.name)):
            _check_choice("dataset", self.name, DATASET_NAMES)
        _check_int("limit_train", self.limit_train, 0, MAX_IMAGES)
        _check_int("limit_test", self.limit_test, 0, MAX_IMAGES)


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "mlp_ae"  # key in MODELS
    latent_dim: int = 64
    hidden: tuple[int, ...] = (256,)  # layer widths (fully connected) or channels (convolutional)
    activation: str = "relu"
    output: str = "sigmoid"  # sigmoid squashes to [0, 1]; clamp is linear, clipped at inference
    recon_loss: str = "mse"
    beta: float = 1.0  # weight of the KL term (VAEs only)
    ssim_weight: float = 1.0  # with mse_ssim / l1_ssim: loss = pixel error + ssim_weight x (1 - SSIM)
    # convolutional models only; the defaults are the classic tutorial network
    norm: str = "none"  # "batch": batch normalisation after every hidden convolution
    # the next two are for scripts: neither bought sharpness per second (bench_quality.py --ablation), so the
    # Train page does not offer them
    upsample: str = "transpose"  # "nearest": nearest-neighbour resize then a 3x3 convolution (no checkerboard)
    convs_per_level: int = 1  # convolutions per resolution: extra ones are stride 1, more capacity

    def __post_init__(self) -> None:
        _check_choice("model kind", self.kind, MODEL_KINDS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("output", self.output, OUTPUTS)
        _check_choice("reconstruction loss", self.recon_loss, RECON_LOSSES)
        _check_int("latent_dim", self.latent_dim, 1, MAX_LATENT)
        if (not isinstance(self.hidden, tuple) or len(self.hidden) > MAX_LAYERS
                or not all(isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_WIDTH for h in self.hidden)):
            raise ValueError(f"hidden must be a tuple of at most {MAX_LAYERS} whole numbers from 1 to {MAX_WIDTH}, "
                             f"got {reprlib.repr(self.hidden)}")
        if self.kind.startswith("conv") and not 1 <= len(self.hidden) <= 3:
            raise ValueError(f"{self.kind} needs 1 to 3 channel counts in hidden, got {self.hidden!r}")
        _check_range("beta", self.beta, 0.0)
        _check_range("ssim_weight", self.ssim_weight, 0.0, 100.0)
        _check_choice("norm", self.norm, NORMS)
        _check_choice("upsample", self.upsample, UPSAMPLES)
        _check_int("convs_per_level", self.convs_per_level, 1, 4)
        if self.recon_loss in SSIM_LOSSES and self.kind in VARIATIONAL_KINDS:
            raise ValueError(f"recon_loss {self.recon_loss!r} is for autoencoders: a VAE's loss is a likelihood in "
                             f"nats, which an SSIM term would no longer be; choose mse or bce")
        if not self.kind.startswith("conv") and (self.norm, self.upsample, self.convs_per_level) != ("none", "transpose", 1):
            raise ValueError(f"norm, upsample and convs_per_level shape convolutional models; {self.kind} needs "
                             f"norm 'none', upsample 'transpose' and convs_per_level 1")
        if self.recon_loss == "bce" and self.output != "sigmoid":
            raise ValueError("recon_loss 'bce' needs output 'sigmoid'; choose mse for a clamp output")


def default_config(kind: str) -> ModelConfig:
    """A ModelConfig with the sizes that suit `kind` (the registry's DEFAULTS)."""
    return dataclasses.replace(ModelConfig(kind=kind), **DEFAULTS.get(kind, {}))


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    val_fraction: float = 0.1  # share of the training images held out for validation
    patience: int = 5  # epochs without min_delta improvement in validation loss before stopping; 0 = never
    # the drop in validation loss that counts, in the loss's unit: mean loss per pixel for autoencoders (MSE
    # about 0.02 once trained), nats per image for VAEs (about 250); the lowest-loss epoch is kept either way
    min_delta: float = 1e-3
    noise: str = "none"  # denoising: corrupt the input, keep the clean target
    noise_level: float = 0.0  # std (gaussian) or share of pixels (salt_pepper, mask)
    bf16: bool = False  # bfloat16 autocast on CPU
    seed: int = 0
    max_steps: int = 0  # stop after this many optimiser steps; 0 = no limit
    lr_schedule: str = "constant"  # one_cycle (Smith & Topin 2017) or cosine decay, over all the run's steps
    warmup: float = 0.1  # share of the steps in which one_cycle and cosine raise the rate from lr / 25 to lr

    def __post_init__(self) -> None:
        _check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_int("batch_size", self.batch_size, 1, 65_536)
        _check_range("lr", self.lr, 1e-8, 10.0)
        _check_range("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_range("val_fraction", self.val_fraction, 0.0, 0.5)
        _check_int("patience", self.patience, 0, MAX_EPOCHS)
        _check_range("min_delta", self.min_delta, 0.0)
        _check_choice("noise", self.noise, NOISE_KINDS)
        _check_range("noise_level", self.noise_level, 0.0, 1.0)
        _check_int("max_steps", self.max_steps, 0, 2**53)
        _check_int("seed", self.seed, -(2**63), 2**64 - 1)  # what torch.manual_seed accepts
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_range("warmup", self.warmup, 0.0, 0.9)
        if self.noise != "none" and self.noise_level == 0.0:
            raise ValueError(f"noise {self.noise!r} needs a noise_level above 0")

    @property
    def denoising(self) -> bool:
        return self.noise != "none"


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = ""  # shown in the app; empty means one is made from the settings


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config as plain JSON types (tuples become lists)."""
    return json_ready(dataclasses.asdict(cfg))


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def _build(cls: type, d: dict[str, Any]) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__} needs a mapping, got {type(d).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}; valid: {', '.join(sorted(names))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    return cls(**kwargs)


def from_dict(d: dict[str, Any]) -> RunConfig:
    """Rebuild a RunConfig from `to_dict` output (JSON lists back to tuples)."""
    if not isinstance(d, dict):
        raise ValueError(f"a run config must be a mapping, got {type(d).__name__}")
    unknown = set(d) - {"data", "model", "train", "name"}
    if unknown:
        raise ValueError(f"unknown RunConfig fields: {', '.join(sorted(unknown))}; valid: data, model, train, name")
    return RunConfig(
        data=_build(DataConfig, d.get("data", {})),
        model=_build(ModelConfig, d.get("model", {})),
        train=_build(TrainConfig, d.get("train", {})),
        name=str(d.get("name", "")),
    )
