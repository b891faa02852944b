"""Autoencoder models; importing this package registers every model file in MODELS and derives the kinds from it.

The configs (`aecore.config`) import the kinds from here, so a model registered is a kind a config accepts.
"""

from . import mlp_ae, deep_mlp_ae, conv_ae, vae, conv_vae  # noqa: F401, I001 (registration, in the order people see them)
from .common import SSIM_LOSSES
from .registry import (
           DEFAULTS,
           MODELS,
           Autoencoder,
           build_model,
           count_parameters,
           is_variational,
           register,
)

MODEL_KINDS = tuple(MODELS)
VARIATIONAL_KINDS = tuple(kind for kind in MODELS if is_variational(kind))

__all__ = ["DEFAULTS", "MODELS", "MODEL_KINDS", "SSIM_LOSSES", "VARIATIONAL_KINDS", "Autoencoder", "build_model",
           "count_parameters", "is_variational", "register"]
