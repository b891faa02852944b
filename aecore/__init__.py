"""aecore: train, score and compare image autoencoders; the library behind Autoencoder Studio.

    from aecore import RunConfig, get_preset, train_run, save_run
    result = train_run(get_preset("fashion-mlp"))
    save_run(result)
"""

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig, from_dict, to_dict
from .data import DATASET_INFO, DatasetUnavailable, Split, load_dataset
from .device import pick_device, set_threads
from .scoring import evaluate
from .models import MODELS, build_model
from .config import default_config
from .presets import PRESETS, get_preset
from .train import History, TrainEvent, TrainResult, fit, train_run

__all__ = [
    "DataConfig", "ModelConfig", "RunConfig", "TrainConfig", "from_dict", "to_dict",
    "DATASET_INFO", "DatasetUnavailable", "Split", "load_dataset",
    "pick_device", "set_threads", "evaluate",
    "MODELS", "build_model", "default_config", "PRESETS", "get_preset",
    "History", "TrainEvent", "TrainResult", "fit", "train_run",
]
