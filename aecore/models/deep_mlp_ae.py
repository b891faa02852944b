"""`deep_mlp_ae`: 784-256-64-32 with an unbounded (linear) 32-d code and Glorot-uniform weights.

Reproduces the deep MNIST autoencoder of the Keras tutorials; the linear bottleneck lets codes
take any sign, which spreads them better in latent plots than a ReLU code.
"""

from __future__ import annotations

from ..config import ModelConfig
from .common import glorot_init
from .mlp_ae import MLPAE
from .registry import register


@register("deep_mlp_ae")
class DeepMLPAE(MLPAE):
    bounded_code = False

    def __init__(self, cfg: ModelConfig, image_shape: tuple[int, int, int]):
        super().__init__(cfg, image_shape)
        glorot_init(self)
