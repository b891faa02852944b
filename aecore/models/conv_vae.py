"""`conv_vae`: the convolutional variational autoencoder, conv encoder to mean and log-variance."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from torch import nn

from .common import VAEMixin, conv_decoder, conv_encoder
from .registry import register

if TYPE_CHECKING:  # only for the hints: configs import the registry, not the other way round
    from ..config import ModelConfig


@register("conv_vae")
class ConvVAE(VAEMixin, nn.Module):
    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        self.cfg, self.image_shape, self.latent_dim = cfg, image_shape, cfg.latent_dim
        self.encoder, shapes = conv_encoder(image_shape, cfg)  # (B, C*H*W)
        flat = math.prod(shapes[-1])
        self.mu = nn.Linear(flat, cfg.latent_dim)
        self.logvar = nn.Linear(flat, cfg.latent_dim)
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, flat), nn.ReLU(), conv_decoder(shapes, cfg))
