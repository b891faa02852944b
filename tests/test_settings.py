"""Settings from the environment: a bad value is one clear ValueError naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import aecore.background
import aecore.jobs
from aecore.background import Executor
from aecore.settings import env_int

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text, expected", [("", 1), ("  ", 1), ("3", 3), (" 2 ", 2)])
def test_env_int_reads_whole_numbers_and_falls_back_when_unset(monkeypatch, text, expected):
    monkeypatch.setenv("AECORE_TEST_INT", text)
    assert env_int("AECORE_TEST_INT", 1, 1, 8) == expected


@pytest.mark.parametrize("text", ["0", "-1", "9", "abc", "2.5", "1e3"])
def test_env_int_refuses_values_out_of_bounds_or_not_whole(monkeypatch, text):
    monkeypatch.setenv("AECORE_TEST_INT", text)
    with pytest.raises(ValueError, match=r"AECORE_TEST_INT must be a whole number from 1 to 8"):
        env_int("AECORE_TEST_INT", 1, 1, 8)


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_max_jobs_is_refused_instead_of_queueing_forever(monkeypatch, value):
    monkeypatch.setenv("AECORE_MAX_JOBS", value)
    monkeypatch.setattr(aecore.jobs, "_registry", None)
    monkeypatch.setattr(aecore.background, "_executor", None)
    with pytest.raises(ValueError, match="AECORE_MAX_JOBS"):
        aecore.jobs.registry()
    with pytest.raises(ValueError, match="at least 1"):
        Executor({"train": 0})


def test_a_bad_thread_count_names_the_variable():
    child = subprocess.run([sys.executable, "-c", "from aecore.device import set_threads; set_threads()"], cwd=ROOT,
                           env={"AECORE_THREADS": "-2", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert child.returncode != 0 and "AECORE_THREADS must be a whole number from 0 to 1024" in child.stderr


@pytest.mark.parametrize("env, named", [({"AECORE_MAX_JOBS": "abc"}, "AECORE_MAX_JOBS"),
                                        ({"AECORE_RAY_ADDRESS": "local", "AECORE_RAY_CPUS": "abc"}, "AECORE_RAY_CPUS"),
                                        ({"AECORE_RAY_ADDRESS": "not an address"}, "AECORE_RAY_ADDRESS"),
                                        ({"AECORE_DEVICE": "gpu"}, "AECORE_DEVICE")])
@pytest.mark.parametrize("page", ["pages/home.py", "pages/train.py", "pages/runs.py", "pages/latent.py"])
def test_a_bad_setting_is_shown_whole_on_every_page(monkeypatch, env, named, page):
    from apptest import open_page

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(aecore.jobs, "_registry", None)
    monkeypatch.setattr(aecore.background, "_executor", None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = open_page(page)  # no exception: the page stops after the message
    assert "settings need fixing" in " ".join(e.value for e in at.error)
    shown = " ".join(c.value for c in at.code)
    assert named in shown and "fix or unset it" in shown, shown


def test_every_setting_is_checked_at_once(monkeypatch):
    from aecore import settings

    monkeypatch.setenv("AECORE_MAX_JOBS", "0")
    monkeypatch.setenv("AECORE_THREADS", "x")
    assert [p.split()[0] for p in settings.problems()] == ["AECORE_MAX_JOBS", "AECORE_THREADS"]
    monkeypatch.delenv("AECORE_MAX_JOBS")
    monkeypatch.delenv("AECORE_THREADS")
    assert settings.problems() == []
