"""Names a person would say for a run: `default_name(cfg)` and `unique_name(name, taken)`.

A run made from a preset is called after it ("Quick demo"); any other after its model and code size
("Fully connected · 64 numbers"). The app and the command line name runs the same way, and the store adds a
number to a name already taken ("Quick demo 2"), so two runs never share one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from .config import RunConfig
from .presets import PRESETS

KIND_NAMES = {
    "mlp_ae": "Fully connected",
    "deep_mlp_ae": "Deep fully connected",
    "conv_ae": "Convolutional",
    "vae": "Variational (VAE)",
    "conv_vae": "Convolutional VAE",
}


def default_name(cfg: RunConfig) -> str:
    """The preset's name when the settings are a preset's, else the model's kind and its code size."""
    settings = dataclasses.replace(cfg, name="")
    for preset in PRESETS.values():
        if dataclasses.replace(preset.config, name="") == settings:
            return preset.title.split(" (")[0]  # without the data in brackets
    numbers = "1 number" if cfg.model.latent_dim == 1 else f"{cfg.model.latent_dim} numbers"
    return f"{KIND_NAMES.get(cfg.model.kind, cfg.model.kind)} · {numbers}"


def unique_name(name: str, taken: Iterable[str]) -> str:
    """`name`, or `name 2`, `name 3`, ... : the first that no name in `taken` already is."""
    taken = set(taken)
    if name not in taken:
        return name
    n = 2
    while f"{name} {n}" in taken:
        n += 1
    return f"{name} {n}"
