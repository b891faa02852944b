"""The model registry: `MODELS` by name, `build_model(cfg, input_shape, seed)` the only factory.

Each model file registers itself with `@register("name")`; `aecore.models` imports them all and derives the
kinds (`MODEL_KINDS`, `VARIATIONAL_KINDS`) from what registered, which the configs check against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from .common import init_weights

if TYPE_CHECKING:  # only for the hints: configs import the registry, not the other way round
    from ..config import ModelConfig

MODELS: dict[str, type[nn.Module]] = {}

# Sizes that give each model its classic shape when the user picks it without a preset.
DEFAULTS: dict[str, dict] = {
    "mlp_ae": {"latent_dim": 64, "hidden": (256,), "recon_loss": "mse"},
    "deep_mlp_ae": {"latent_dim": 32, "hidden": (256, 64), "recon_loss": "mse"},
    "conv_ae": {"latent_dim": 32, "hidden": (32, 64), "recon_loss": "mse"},
    "vae": {"latent_dim": 16, "hidden": (512, 256), "recon_loss": "bce"},
    "conv_vae": {"latent_dim": 16, "hidden": (32, 64), "recon_loss": "bce"},
}


@runtime_checkable
class Autoencoder(Protocol):
    """What every registered model offers; pages and training rely on nothing else."""

    latent_dim: int

    def encode(self, x: Tensor) -> Tensor: ...  # (B, C, H, W) -> (B, D); a VAE gives the mean

    def decode(self, z: Tensor) -> Tensor: ...  # (B, D) -> (B, C, H, W)

    # (loss, logs of detached scalars); whatever is random (a VAE's z) is drawn from `generator` when given
    def loss(
        self, x: Tensor, target: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]: ...


def register(name: str):
    """Class decorator adding a model to MODELS under `name`."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        MODELS[name] = cls
        return cls

    return add


def is_variational(kind: str) -> bool:
    """Whether the model kind is a VAE: its loss is a negative ELBO in nats per image, and it can be sampled."""
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of: {', '.join(MODELS)}")
    return hasattr(MODELS[kind], "posterior")


def build_model(cfg: ModelConfig, input_shape: tuple[int, int, int], seed: int = 0) -> nn.Module:
    """A new model for images of shape (C, H, W), on the CPU, its weights drawn from `seed` alone.

    The layers are made on the meta device, which draws nothing, then filled from a generator of the
    model's own: torch's global generator is shared by every thread (page scoring, other jobs), so a
    seed set there is not a seed another thread can be trusted to leave alone. Built inside
    `with torch.device("meta")`, the model stays on meta, uninitialised, for checking sizes only.
    """
    if cfg.kind not in MODELS:
        raise ValueError(f"unknown model kind {cfg.kind!r}; choose one of: {', '.join(MODELS)}")
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
    wanted = torch.get_default_device()
    with torch.device("meta"):
        model = MODELS[cfg.kind](cfg, tuple(input_shape))
    if wanted.type == "meta":
        return model
    model = model.to_empty(device="cpu")
    init_weights(model, torch.Generator().manual_seed(seed))
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
