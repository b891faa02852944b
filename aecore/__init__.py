"""aecore: train, score and compare image autoencoders; the library behind Autoencoder Studio.

    from aecore import RunConfig, get_preset, train_run, save_run
    result = train_run(get_preset("fashion-mlp"))
    save_run(result)
"""

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig, default_config, from_dict, to_dict
from .data import DATASET_INFO, DatasetUnavailable, Split, load_dataset
from .device import pick_device, set_threads
from .models import MODELS, build_model
from .presets import PRESETS, get_preset
from .scoring import evaluate
from .store.runs import list_runs, load_model, load_run, save_run
from .train import History, TrainEvent, TrainResult, fit, train_run

__all__ = [
    "DataConfig", "ModelConfig", "RunConfig", "TrainConfig", "from_dict", "to_dict",
    "DATASET_INFO", "DatasetUnavailable", "Split", "load_dataset",
    "pick_device", "set_threads", "evaluate",
    "MODELS", "build_model", "default_config", "PRESETS", "get_preset",
    "History", "TrainEvent", "TrainResult", "fit", "train_run",
    "list_runs", "load_model", "load_run", "save_run",
]
