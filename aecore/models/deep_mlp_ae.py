"""`deep_mlp_ae`: 784-256-64-32 with an unbounded (linear) 32-d code and Glorot-uniform weights.

Reproduces the deep MNIST autoencoder of the Keras tutorials; the linear bottleneck lets codes
take any sign, which spreads them better in latent plots than a ReLU code.
"""

from __future__ import annotations

from .mlp_ae import MLPAE
from .registry import register


@register("deep_mlp_ae")
class DeepMLPAE(MLPAE):
    bounded_code = False
    weight_init = "glorot"  # build_model's init_weights reads this
