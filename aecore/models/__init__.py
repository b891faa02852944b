"""Autoencoder models; importing this package registers every model file in MODELS."""

from . import conv_ae, conv_vae, deep_mlp_ae, mlp_ae, vae  # noqa: F401  (registration)
from .registry import MODELS, Autoencoder, build_model, count_parameters, default_config, is_variational, register

__all__ = ["MODELS", "Autoencoder", "build_model", "count_parameters", "default_config", "is_variational", "register"]
