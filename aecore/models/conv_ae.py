"""`conv_ae`: strided convolutions down to a linear code, transposed convolutions back up, sigmoid output."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from torch import nn

from .common import AEMixin, conv_decoder, conv_encoder
from .registry import register

if TYPE_CHECKING:  # only for the hints: configs import the registry, not the other way round
    from ..config import ModelConfig


@register("conv_ae")
class ConvAE(AEMixin, nn.Module):
    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__()
        self.cfg, self.image_shape, self.latent_dim = cfg, image_shape, cfg.latent_dim
        features, shapes = conv_encoder(image_shape, cfg)
        flat = math.prod(shapes[-1])
        self.encoder = nn.Sequential(features, nn.Linear(flat, cfg.latent_dim))  # (B, D)
        self.decoder = nn.Sequential(nn.Linear(cfg.latent_dim, flat), nn.ReLU(), conv_decoder(shapes, cfg))
