"""`vae`: fully connected variational autoencoder with a Gaussian posterior and a N(0, I) prior."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from torch import nn

from .common import VAEMixin, mlp
from .registry import register

if TYPE_CHECKING:  # only for the hints: configs import the registry, not the other way round
    from ..config import ModelConfig


@register("vae")
class VAE(VAEMixin, nn.Module):
    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        self.cfg, self.image_shape, self.latent_dim = cfg, image_shape, cfg.latent_dim
        sizes = [math.prod(image_shape), *cfg.hidden]
        self.encoder = nn.Sequential(nn.Flatten(), mlp(sizes, cfg.activation, last_act=True))  # (B, hidden[-1])
        self.mu = nn.Linear(sizes[-1], cfg.latent_dim)
        self.logvar = nn.Linear(sizes[-1], cfg.latent_dim)
        self.decoder = nn.Sequential(
            mlp([cfg.latent_dim, *sizes[::-1]], cfg.activation, last_act=False),
            nn.Unflatten(1, image_shape),  # (B, C, H, W) logits
        )
