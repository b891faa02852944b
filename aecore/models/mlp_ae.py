"""`mlp_ae`: the classic fully connected autoencoder, 784-256-64 with ReLU (also on the code), sigmoid output."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from torch import nn

from .common import AEMixin, mlp
from .registry import register

if TYPE_CHECKING:  # only for the hints: configs import the registry, not the other way round
    from ..config import ModelConfig


@register("mlp_ae")
class MLPAE(AEMixin, nn.Module):
    bounded_code = True  # the tutorial's Dense(64, activation="relu") code is non-negative

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        self.cfg, self.image_shape, self.latent_dim = cfg, image_shape, cfg.latent_dim
        sizes = [math.prod(image_shape), *cfg.hidden, cfg.latent_dim]
        self.encoder = nn.Sequential(nn.Flatten(), mlp(sizes, cfg.activation, last_act=self.bounded_code))  # (B, D)
        self.decoder = nn.Sequential(
            mlp(sizes[::-1], cfg.activation, last_act=False),
            nn.Unflatten(1, image_shape),  # (B, C, H, W) logits
        )
