"""Run names a person would say, the same from the app and the command line, and never two alike."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from apptest import open_page

import aecore.background
import aecore.jobs
from aecore.cli import build_parser, config_from_args, main
from aecore.config import ModelConfig, RunConfig
from aecore.names import default_name, unique_name
from aecore.presets import PRESETS, get_preset
from aecore.store.runs import RunError, list_runs, rename_run

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--data", "digits", "--model", "mlp_ae", "--latent-dim", "12", "--epochs", "1", "--limit-train", "300",
         "--limit-test", "60"]


def test_presets_are_named_after_their_titles_and_other_settings_after_the_model_and_code_size():
    assert default_name(get_preset("quick-demo")) == "Quick demo"
    assert all("(" not in default_name(p.config) and default_name(p.config) for p in PRESETS.values())
    assert default_name(RunConfig()) == "FashionMNIST fully connected AE"  # the defaults are the classic preset
    assert default_name(RunConfig(model=ModelConfig(latent_dim=10))) == "Fully connected · 10 numbers"
    assert default_name(RunConfig(model=ModelConfig("conv_ae", 1, (32, 64)))) == "Convolutional · 1 number"
    changed = get_preset("quick-demo")
    assert default_name(dataclasses.replace(changed, train=dataclasses.replace(changed.train, epochs=9))) == \
        "Convolutional · 32 numbers"  # changed settings are no longer the preset
    assert unique_name("Quick demo", {"Quick demo", "Quick demo 2"}) == "Quick demo 3"
    assert unique_name("Mine", {"Quick demo"}) == "Mine"


def test_the_command_line_and_the_app_name_the_same_settings_alike_and_never_the_same(runs_dir, monkeypatch, capsys):
    monkeypatch.setattr(aecore.jobs, "_registry", None)
    monkeypatch.setattr(aecore.background, "_executor", None)
    assert main(["train", *FLAGS]) == 0
    cfg = config_from_args(build_parser().parse_args(["train", *FLAGS]))
    job = aecore.jobs.start(cfg)  # what the Train button does
    deadline = time.monotonic() + 120
    while not aecore.jobs.progress(job).finished:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    names = sorted(r.name for r in list_runs())
    assert names == ["Fully connected · 12 numbers", "Fully connected · 12 numbers 2"]
    with pytest.raises(RunError, match="already called"):
        rename_run(list_runs()[0].id, "Fully connected · 12 numbers")

    monkeypatch.chdir(ROOT)
    at = open_page("pages/train.py")  # the Quick demo preset: nothing of that name saved yet
    assert at.text_input(key="run_name").proto.placeholder == "Quick demo"
    at.selectbox(key="model").set_value("mlp_ae").run()
    at.number_input(key="latent_dim").set_value(12).run()
    assert at.text_input(key="run_name").proto.placeholder.startswith("Fully connected · 12 numbers")
