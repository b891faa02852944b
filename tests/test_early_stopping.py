"""Early stopping: the epoch with the lowest validation loss is kept; patience decides only when to stop."""


import dataclasses
import math
import torch
from fitting import fit_tiny
from aecore.config import DataConfig, TrainConfig
from aecore.data import load_dataset, split_validation
from aecore.models import build_model
from aecore.config import default_config
from aecore.train import TrainEvent, fit, validate


def test_early_stopping_keeps_best_epoch(tiny_split):
    train, val = split_validation(tiny_split, 0.25, 0)
    cfg = TrainConfig(epochs=50, batch_size=16, patience=2, min_delta=10.0)  # nothing beats the first epoch by 10
    model, history, _ = fit_tiny("mlp_ae", train, cfg, val=val)
    losses = [e["val_loss"] for e in history.epochs]
    assert history.status == "early_stopped" and history.ok
    assert len(history.epochs) == 3 and history.best_epoch == 1 + losses.index(min(losses))


def test_early_stopping_restores_the_lowest_validation_loss_not_the_last_min_delta_improvement():
    train, _ = load_dataset(DataConfig(limit_train=600, limit_test=10))
    train, val = split_validation(train, 0.2, 0)
    base = TrainConfig(epochs=8, batch_size=32, patience=0)
    _, free, _ = fit_tiny("mlp_ae", train, base, val=val)
    losses = [e["val_loss"] for e in free.epochs]
    cfg = dataclasses.replace(base, patience=2, min_delta=0.01)
    # what patience should see in these (deterministic) losses: the min_delta rule decides when to stop...
    ref, waited, last_improving, stop = math.inf, 0, 0, len(losses)
    for epoch, loss in enumerate(losses, 1):
        if loss < ref - cfg.min_delta:
            ref, waited, last_improving = loss, 0, epoch
        else:
            waited += 1
        if waited >= cfg.patience:
            stop = epoch
            break
    lowest = min(range(1, stop + 1), key=lambda e: losses[e - 1])
    assert stop < len(losses) and lowest > last_improving, losses  # ...and a later epoch is lower still

    snapshots = {}

    def keep(e: TrainEvent) -> None:
        if e.epoch_end:
            snapshots[e.epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    torch.manual_seed(cfg.seed)
    model = build_model(default_config("mlp_ae"), train.shape)
    history = fit(model, train, val, cfg, "cpu", keep)
    assert history.status == "early_stopped" and len(history.epochs) == stop
    assert [e["val_loss"] for e in history.epochs] == losses[:stop]
    assert history.best_epoch == lowest and f"kept epoch {lowest}" in history.message
    assert all(torch.equal(v, snapshots[lowest][k]) for k, v in model.state_dict().items())


def test_patience_keeps_the_lowest_epoch_when_the_epochs_run_out(tiny_split):
    train, val = split_validation(tiny_split, 0.25, 0)
    cfg = TrainConfig(epochs=4, batch_size=16, patience=5, lr=0.003)
    _, free, _ = fit_tiny("mlp_ae", train, dataclasses.replace(cfg, patience=0), val=val)
    losses = [e["val_loss"] for e in free.epochs]
    lowest = 1 + losses.index(min(losses))
    assert lowest < len(losses), losses
    model, history, _ = fit_tiny("mlp_ae", train, cfg, val=val)
    assert history.status == "done" and history.best_epoch == lowest
    assert validate(model, val, torch.device("cpu"), cfg)["loss"] == losses[lowest - 1]  # that epoch's weights
