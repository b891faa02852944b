"""This machine's speed: measured in a few seconds, kept on disk, measured again when the machine changes, and a
preset's time from it close to the time a real run takes."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

import aecore.jobs
from aecore import machine_speed
from aecore.config import DataConfig
from aecore.data import dataset_sizes
from aecore.prepare import measure_speed
from aecore.presets import PRESETS, get_preset
from aecore.train import new_model, train_run
from tests.apptest import open_page, texts


def test_a_presets_time_here_is_close_to_a_real_runs(tmp_path):
    cfg = get_preset("quick-demo")
    cfg = dataclasses.replace(cfg, data=DataConfig(name="fashion-mnist-sample", limit_train=6000, limit_test=1000),
                              train=dataclasses.replace(cfg.train, epochs=3))
    tries = []
    for attempt in range(3):  # a measurement and a run back to back; another try when other work shared the CPU
        path = tmp_path / f"speed-{attempt}.json"
        started = time.monotonic()
        costs = machine_speed.calibrate([cfg], "cpu", path)
        measuring = time.monotonic() - started
        promised = machine_speed.estimate(cfg, costs[machine_speed.signature(cfg)], *dataset_sizes(cfg.data))
        started = time.monotonic()
        assert train_run(cfg, "cpu").history.ok
        took = time.monotonic() - started
        assert measuring < 0.5 * took + 2.0  # measuring is a short look, not a run
        tries.append((round(promised, 2), round(took, 2)))
        if 0.6 * took < promised < 1.6 * took:
            return
    pytest.fail(f"(promised, took) in three tries: {tries}")


def test_a_stall_outside_the_steps_does_not_make_them_look_free(monkeypatch):
    """A busy machine stalls a measurement now and then; a stall in one short run once read as steps costing
    nothing, and the quick demo was promised as 1 s when it took 9 s."""
    cfg = PRESETS["fashion-mlp"].config
    # the quicker of two: a busy moment in the reference itself once read as steps fifty times dearer
    steady = min((machine_speed.measure(cfg, "cpu") for _ in range(2)), key=lambda c: c.step)
    built = []

    def slow_once(*args, **kwargs):
        built.append(1)
        if len(built) == 2:  # a quarter-second stall in one short run, as when another process takes the CPU
            time.sleep(0.25)
        return new_model(*args, **kwargs)

    monkeypatch.setattr(machine_speed, "new_model", slow_once)
    stalled = machine_speed.measure(cfg, "cpu")
    assert len(built) >= 2
    assert stalled.step > 0.5 * steady.step, (stalled, steady)
    assert stalled.start < 1.0  # the stall counts once, in the set-up's start, never per step


def test_the_measurements_are_kept_and_measured_again_when_the_machine_changes(tmp_path):
    path = tmp_path / "speed.json"
    configs = [PRESETS["fashion-mlp"].config, PRESETS["mnist-64"].config]
    first = machine_speed.calibrate(configs, "cpu", path)
    assert set(first) == {machine_speed.signature(c) for c in configs}
    assert machine_speed.load(path, "cpu") == first  # kept: a second server start measures nothing
    assert machine_speed.calibrate(configs, "cpu", path) == first
    body = json.loads(path.read_text())
    body["machine"]["name"] = "another CPU"
    path.write_text(json.dumps(body))
    assert machine_speed.load(path, "cpu") == {}  # measured on another machine: not trusted here
    again = machine_speed.calibrate(configs, "cpu", path)
    assert set(again) == set(first) and machine_speed.load(path, "cpu") == again


@pytest.mark.parametrize("costs", [
    {"a": [1, 2, 3]},  # three numbers
    {"a": [0.1, float("nan"), 0.1, 0.1]},  # JSON's NaN
    {"a": [0.1, -1, 0.1, 0.1]},
    {"a": [0.1, 1e300, 0.1, 0.1]},
    {"a": ["0.1", 0.1, 0.1, 0.1]},
    ["not", "a", "mapping"],
])
def test_a_damaged_or_hostile_file_is_only_a_cache_miss(tmp_path, costs):
    path = tmp_path / "speed.json"
    path.write_text(json.dumps({"machine": machine_speed.machine("cpu"), "costs": costs}))
    assert machine_speed.load(path, "cpu") == {}


def test_a_garbage_or_huge_file_is_a_cache_miss(tmp_path):
    path = tmp_path / "speed.json"
    path.write_bytes(b"\x00\xff{" * 10)
    assert machine_speed.load(path, "cpu") == {}
    path.write_text(" " * (machine_speed.MAX_FILE_BYTES + 1))
    assert machine_speed.load(path, "cpu") == {}


def test_train_shows_each_presets_time_here_in_its_title_and_on_the_button():
    at = open_page("pages/train.py")  # the session's measurements are in its cache folder (tests/conftest.py)
    here = machine_speed.seconds_here({n: p.config for n, p in PRESETS.items()})
    assert set(here) == set(PRESETS)
    options = at.selectbox(key="preset").options
    assert all(" · about " in o and o.endswith(" here") for o in options if o != "Custom settings")
    assert at.button(key="train").label.startswith("Train · about ")
    assert "Measuring how fast" not in texts(at.caption)


def test_a_fresh_server_measures_in_the_background_then_shows_the_times(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "empty-cache"))  # nothing measured on this "machine" yet
    at = open_page("pages/train.py")
    assert "Measuring how fast this computer trains" in texts(at.caption)
    assert at.button(key="train").label == "Train"  # no time promised before it is measured
    deadline = time.monotonic() + 120
    while len(machine_speed.load()) < len(PRESETS):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    time.sleep(1.0)  # the measurement's end reaches the executor
    at.run()
    assert at.button(key="train").label.startswith("Train · about ")
    assert machine_speed.default_path().parent == tmp_path / "empty-cache"


def test_a_model_queued_behind_the_measurement_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_CACHE_DIR", str(tmp_path / "empty-cache"))
    at = open_page("pages/train.py")  # starts measuring, in the one training place
    assert "Measuring how fast this computer trains" in texts(at.caption)
    at.button(key="train").click().run()
    waiting = texts(at.info)
    assert "this model is next in line" in waiting and "measuring how fast this computer trains" in waiting
    job = at.query_params["job"]
    deadline = time.monotonic() + 180
    while not aecore.jobs.progress(job).finished:  # it trains once the measurement is done
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert aecore.jobs.progress(job).state in ("done", "no_better")


def test_one_visitors_settings_are_not_measured_while_anyone_trains():
    own = dataclasses.replace(get_preset("quick-demo"), model=dataclasses.replace(get_preset("quick-demo").model,
                                                                                   latent_dim=7))
    job = aecore.jobs.start(dataclasses.replace(get_preset("fashion-mlp"),
                                                train=dataclasses.replace(get_preset("fashion-mlp").train, epochs=500)))
    try:
        deadline = time.monotonic() + 60
        while aecore.jobs.progress(job).state == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        presets = [p.config for p in PRESETS.values()]  # measured already (tests/conftest.py)
        assert measure_speed(presets, when_idle=[own]) is None  # nothing is queued behind the training job
        assert machine_speed.signature(own) not in machine_speed.load()
    finally:
        aecore.jobs.stop(job)
    while not aecore.jobs.progress(job).finished:
        time.sleep(0.2)
    work = measure_speed(presets, when_idle=[own])  # nothing trains now: these settings are measured
    assert work is not None
    deadline = time.monotonic() + 60
    while machine_speed.signature(own) not in machine_speed.load():
        assert time.monotonic() < deadline
        time.sleep(0.3)
