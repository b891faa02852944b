import dataclasses
import json

import pytest

from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig, from_dict, to_dict
from aecore.presets import PRESETS, get_preset


@pytest.mark.parametrize("cfg", [RunConfig(), *(get_preset(n) for n in PRESETS)])
def test_json_round_trip_gives_equal_config(cfg):
    assert from_dict(json.loads(json.dumps(to_dict(cfg)))) == cfg


def test_configs_are_frozen():
    cfg = ModelConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.latent_dim = 2  # type: ignore[misc]
    assert dataclasses.replace(cfg, latent_dim=2).latent_dim == 2


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: ModelConfig(kind="resnet"), ["mlp_ae", "conv_vae"]),
        (lambda: ModelConfig(activation="swish"), ["relu", "gelu"]),
        (lambda: ModelConfig(latent_dim=0), ["latent_dim"]),
        (lambda: ModelConfig(kind="conv_ae", hidden=()), ["1 to 3"]),
        (lambda: ModelConfig(output="clamp", recon_loss="bce"), ["sigmoid"]),
        (lambda: DataConfig(name="cifar"), ["fashion-mnist-sample", "digits"]),
        (lambda: TrainConfig(noise="speckle", noise_level=0.1), ["gaussian", "salt_pepper", "mask"]),
        (lambda: TrainConfig(noise="gaussian"), ["noise_level"]),
        (lambda: TrainConfig(lr=float("nan")), ["lr"]),
        (lambda: TrainConfig(batch_size=0), ["batch_size"]),
    ],
)
def test_bad_values_raise_value_error_naming_valid_choices(make, words):
    with pytest.raises(ValueError) as err:
        make()
    for word in words:
        assert word in str(err.value)


def test_from_dict_rejects_unknown_fields():
    d = to_dict(RunConfig())
    d["model"]["depth"] = 3
    with pytest.raises(ValueError, match="depth"):
        from_dict(d)


def test_unknown_preset_lists_presets():
    with pytest.raises(ValueError, match="fashion-mlp"):
        get_preset("nope")


JARGON = ("AE", "MSE", "SSIM", "BCE", "KL", "ReLU", "sigmoid", "Adam", "-d ", "batch norm", "one-cycle", "std",
          "784", "Glorot", "stride", "Gaussian", "manifold", "latent")


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_says_what_it_is_in_plain_words_with_the_terms_one_click_away(name):
    import re

    preset = PRESETS[name]
    words = set(re.findall(r"[\w-]+", preset.description))
    assert not [j for j in JARGON if j in words or (" " in j or "-" in j) and j in preset.description], \
        preset.description
    assert preset.details and preset.details != preset.description
