"""The Train page's settings live in its link: a link opens the same set-up, bad values from it are left out with a
plain message, nothing trains by itself, and `?job=` still rejoins a job. The job view pauses and resumes."""

from __future__ import annotations

import time

import pytest

from apptest import open_page, texts

import aecore.jobs
from aecore.config import DataConfig, RunConfig, TrainConfig
from ui.train_link import CONTROLS, Between, hidden_from_link, lesson_link, settings_from_link

LIMITS = {"preset": ("custom", "a"), "epochs": Between(1, 500), "noise": ("none", "gaussian"),
          "noise_level": Between(0.0, 1.0), "lr": Between(0.0001, 1.0), "bf16": ()}
DEFAULTS = {"epochs": 5, "noise": "none", "noise_level": 0.0, "lr": 0.001, "bf16": False}


def build(v: dict) -> RunConfig:
    return RunConfig(DataConfig(), train=TrainConfig(epochs=v["epochs"], noise=v["noise"], lr=v["lr"],
                                                     noise_level=v["noise_level"], bf16=v["bf16"]))


def from_link(params: dict) -> tuple[dict, list[str]]:
    return settings_from_link(params, lambda preset: dict(DEFAULTS), build, "a", LIMITS)


def test_a_link_sets_what_it_names_and_keeps_the_rest():
    values, problems = from_link({"epochs": "12", "lr": "0.003", "bf16": "true", "job": "x", "other": "y"})
    assert problems == [] and values == {"preset": "a", **DEFAULTS, "epochs": 12, "lr": 0.003, "bf16": True}
    assert from_link({"job": "abc"}) == ({}, [])  # a plain job link sets nothing


def test_settings_that_need_each_other_apply_in_any_order():
    # a noise kind needs a level above 0: checked alone on the defaults it would fail
    values, problems = from_link({"noise": "gaussian", "noise_level": "0.4"})
    assert problems == [] and (values["noise"], values["noise_level"]) == ("gaussian", 0.4)
    values, problems = from_link({"noise": "gaussian"})
    assert values["noise"] == "none" and len(problems) == 1 and "noise_level above 0" in problems[0]


@pytest.mark.parametrize("key, text, why", [
    ("epochs", "abc", "whole number"), ("epochs", "9" * 5000, "too long"), ("epochs", "0", "between 1 and 500, not 0"),
    ("lr", "nan", "finite"), ("lr", "1e9", "between"), ("noise", "<script>", "one of none, gaussian"),
    ("bf16", "yes", "true or false"), ("preset", "../../etc", "one of custom, a"),
])
def test_hostile_values_are_left_out_with_a_reason(key, text, why):
    values, problems = from_link({key: text, "epochs": "7"} if key != "epochs" else {key: text})
    assert len(problems) == 1 and why in problems[0] and key in problems[0]
    assert {k: values[k] for k in DEFAULTS if k != "epochs"} == {k: v for k, v in DEFAULTS.items() if k != "epochs"}
    assert values["epochs"] == (7 if key != "epochs" else 5)


@pytest.fixture
def no_jobs_started():
    before = {p.job_id for p in aecore.jobs.list_jobs()}
    yield
    assert {p.job_id for p in aecore.jobs.list_jobs()} == before  # a link never starts training by itself


def test_a_copied_link_opens_the_same_set_up_and_trains_nothing(runs_dir, no_jobs_started):
    at = open_page("pages/train.py")
    at.selectbox(key="model").set_value("conv_ae").run()
    at.number_input(key="epochs").set_value(7).run()
    at.number_input(key="seed").set_value(42).run()
    at.number_input(key="lr").set_value(0.002).run()
    link = {k: at.query_params[k] for k in at.query_params}
    assert (link["model"], link["epochs"], link["seed"], link["lr"]) == ("conv_ae", "7", "42", "0.002")
    opened = open_page("pages/train.py", query=link)
    for key in ("model", "epochs", "seed", "lr", "latent_dim", "batch_size", "dataset", "preset"):
        assert opened.session_state[key] == at.session_state[key], key
    assert not opened.warning and "Ready when you are" in texts(opened.markdown)


def test_a_bad_link_says_what_it_left_out_and_never_crashes(runs_dir, no_jobs_started):
    at = open_page("pages/train.py", query={"epochs": "abc", "latent_dim": "100000", "lr": "nan", "seed": "-5",
                                            "model": "<img src=x>", "batch_size": "77", "preset": "nope",
                                            "noise": "gaussian", "noise_level": "0.4", "patience": "3"})
    assert "could not be used" in texts(at.warning)
    said = texts(at.text)
    for key in ("epochs", "latent_dim", "lr", "seed", "model", "batch_size", "preset"):
        assert key in said, key
    assert "<img src=x>" in said  # shown as written, as text
    assert (at.session_state.noise, at.session_state.noise_level, at.session_state.patience) == ("gaussian", 0.4, 3)
    usual = open_page("pages/train.py")
    for key in ("model", "epochs", "latent_dim", "lr", "seed", "batch_size"):
        assert at.session_state[key] == usual.session_state[key], key  # the bad ones keep their usual values
    assert at.button(key="train").disabled is False
    at.run()
    assert not at.exception and not at.warning  # said once


def test_a_job_link_still_rejoins_its_job(runs_dir):
    cfg = RunConfig(DataConfig(name="digits"), train=TrainConfig(epochs=1, max_steps=2))
    job_id = aecore.jobs.start(cfg)
    aecore.jobs.registry().wait(job_id, timeout=120)
    at = open_page("pages/train.py", query={"job": job_id, "epochs": "3"})
    assert at.session_state.job_id == job_id and at.session_state.epochs == 3
    assert at.query_params["job"] == job_id


def test_the_job_view_pauses_and_resumes_and_stops_while_paused(runs_dir):
    cfg = RunConfig(DataConfig(name="digits"), train=TrainConfig(epochs=300, batch_size=16, patience=0))
    job_id = aecore.jobs.start(cfg)
    deadline = time.monotonic() + 120
    while aecore.jobs.progress(job_id).step < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        paused_and_resumed(job_id)
    finally:
        aecore.jobs.stop(job_id)
    p = aecore.jobs.registry().wait(job_id, timeout=60)
    assert p.state == "stopped" and 0 < p.step < p.total_steps


def paused_and_resumed(job_id: str) -> None:
    at = open_page("pages/train.py", query={"job": job_id})
    at.button(key="pause").click().run()
    assert aecore.jobs.progress(job_id).state == "paused"
    assert "its place in training are kept" in texts(at.info) and at.button(key="resume").label == "Resume"
    at.button(key="resume").click().run()
    assert aecore.jobs.progress(job_id).state == "running" and at.button(key="pause")
    at.button(key="pause").click().run()
    assert aecore.jobs.progress(job_id).state == "paused"
    at.button(key="stop").click().run()  # Stop works while paused


def test_a_lesson_link_names_the_controls_it_shows_or_hides():
    every = frozenset(CONTROLS)
    assert hidden_from_link({"show": "latent_dim"}) == (every - {"latent_dim"}, [])
    assert hidden_from_link({"hide": "seed, lr"}) == (frozenset({"seed", "lr"}), [])
    assert hidden_from_link({"show": "epochs", "hide": "epochs"})[0] == every - {"epochs"}  # show wins
    hidden, problems = hidden_from_link({"hide": "seed,<b>x</b>"})
    assert hidden == {"seed"} and len(problems) == 1 and "'<b>x</b>'" in problems[0]
    hidden, problems = hidden_from_link({"show": "a," * 300})
    assert hidden == frozenset() and problems == ["show is too long to be a list of controls"]
    assert hidden_from_link({}) == (frozenset(), [])


def test_a_lesson_link_opens_with_only_its_controls_and_their_values():
    at = open_page("pages/train.py", query={"preset": "fashion-mlp", "latent_dim": "8", "epochs": "2",
                                            "show": "latent_dim,epochs"})
    assert at.number_input(key="latent_dim").value == 8 and at.number_input(key="epochs").value == 2
    drawn = {w.key for w in at.get("number_input")} | {w.key for w in at.selectbox}
    assert drawn == {"latent_dim", "epochs"}  # no preset, dataset, model, lr, seed, patience, noise
    assert not at.text_input and "This lesson's link sets the other settings." in texts(at.caption)
    assert at.button(key="train").label.startswith("Train")
    link = lesson_link("http://host/train?x=1", {"preset": "fashion-mlp", "latent_dim": 8, "lr": 0.001,
                                                 "unknown": 1}, {"preset": (), "latent_dim": (), "lr": ()},
                       ["lr", "latent_dim"])
    assert link == "http://host/train?preset=fashion-mlp&latent_dim=8&lr=0.001&show=latent_dim,lr"
