"""Every `AECORE_*` environment variable, read and checked here and nowhere else.

Each setting is a function that reads its variable now (tests and scripts change the environment), returns
a checked value, or raises a ValueError whose one sentence names the variable and what it takes, so a typo in
a deployment fails with a sentence, not a traceback deep in torch, and a value such as `AECORE_MAX_JOBS=0`
cannot leave every job waiting for a slot that never opens. `problems()` checks them all at once: the app
calls it before any page draws and shows what it finds on every page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

DEVICE_FORM = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
RAY_ADDRESS_FORM = re.compile(r"local|auto|ray://[^\s/]+:\d+|[^\s/:]+:\d+")
PREFIX = "AECORE_"  # what the worker processes are handed of the asking process's environment
RAY_ADDRESS = "AECORE_RAY_ADDRESS"
TEACHER_PASSWORD = "AECORE_TEACHER_PASSWORD"  # never handed to a worker, logged or shown


def env_int(name: str, default: int, lo: int, hi: int) -> int:
    """The environment variable `name` as an int in [lo, hi]; `default` when it is unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {text!r}; fix or unset it")
    return value


def env_float(name: str, default: float, lo: float, hi: float) -> float:
    """The environment variable `name` as a number in [lo, hi]; `default` when it is unset or empty."""
    text = os.environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        raise ValueError(f"{name} must be a number from {lo:g} to {hi:g}, got {text!r}; fix or unset it")
    return value


def max_jobs() -> int:
    """Training jobs at once on this server (`AECORE_MAX_JOBS`, default 1)."""
    return env_int("AECORE_MAX_JOBS", 1, 1, 256)


def max_compute() -> int:
    """Maps, scorings and downloads at once on this server (`AECORE_MAX_COMPUTE`, default 1)."""
    return env_int("AECORE_MAX_COMPUTE", 1, 1, 256)


def max_queued() -> int:
    """Training jobs, and maps or scorings, one visitor may have waiting or running at once (`AECORE_MAX_QUEUED`,
    default 2): one person cannot fill the line for a class."""
    return env_int("AECORE_MAX_QUEUED", 2, 1, 1000)


def max_job_minutes() -> float:
    """Minutes one training job may take before it is stopped and saved as it is (`AECORE_MAX_JOB_MINUTES`);
    0 for no limit, the default unless a teacher password is set, when it is 30."""
    return env_float("AECORE_MAX_JOB_MINUTES", 30.0 if teacher_password() else 0.0, 0.0, 100_000.0)


def max_runs_per_owner() -> int:
    """Runs one visitor may keep, trained or added (`AECORE_MAX_RUNS_PER_OWNER`); 0 for no limit, the default
    unless a teacher password is set, when it is 30: a class's disk is shared."""
    return env_int("AECORE_MAX_RUNS_PER_OWNER", 30 if teacher_password() else 0, 0, 1_000_000)


def pause_hold() -> float:
    """Seconds a paused training job keeps its training place (`AECORE_PAUSE_HOLD`, default 60) while another
    waits for one; then it gives the place to the next in line and takes the next free one once resumed."""
    return env_float("AECORE_PAUSE_HOLD", 60.0, 0.0, 86_400.0)


def threads() -> int:
    """torch's CPU threads (`AECORE_THREADS`); 0, the default, means every CPU the process may use."""
    return env_int("AECORE_THREADS", 0, 0, 1024)


def check_device_name(name: str) -> str:
    """`name` if it is auto, cpu, cuda, cuda:N or mps; ValueError otherwise."""
    if not DEVICE_FORM.fullmatch(name):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu, cuda, cuda:N or mps")
    return name


def device(default: str = "auto") -> str:
    """The device to train on (`AECORE_DEVICE`: auto, cpu, cuda, cuda:N or mps), or `default` when unset."""
    text = os.environ.get("AECORE_DEVICE", "").strip()
    try:
        return check_device_name(text) if text else default
    except ValueError as err:
        raise ValueError(f"AECORE_DEVICE: {err}; fix or unset it") from None


def data_dir() -> Path:
    """Root of torchvision's dataset layout (`AECORE_DATA_DIR`, default `./data`)."""
    return Path(os.environ.get("AECORE_DATA_DIR") or "data")


def runs_dir() -> Path:
    """Root of the run store (`AECORE_RUNS_DIR`, default `./runs`)."""
    return Path(os.environ.get("AECORE_RUNS_DIR") or "runs")


def datasets_dir() -> Path:
    """Where a person's own picture collections are kept (`AECORE_DATASETS_DIR`, default `./datasets`)."""
    return Path(os.environ.get("AECORE_DATASETS_DIR") or "datasets")


def cache_dir() -> Path:
    """What the app measures once per machine and keeps (`AECORE_CACHE_DIR`, default `~/.cache/autoencoder-studio`)."""
    return Path(os.environ.get("AECORE_CACHE_DIR") or Path.home() / ".cache" / "autoencoder-studio")


def check_ray_address(address: str) -> str:
    """`address` if it is local, auto, ray://host:port or host:port; ValueError naming the variable otherwise."""
    if not RAY_ADDRESS_FORM.fullmatch(address):
        raise ValueError(f"{RAY_ADDRESS} must be local, auto, ray://HOST:PORT (the head's client port, 10001) or "
                         f"HOST:PORT (the head's GCS port, 6379), got {address!r}; fix or unset it")
    return address


def ray_address() -> str | None:
    """The Ray cluster training jobs go to (`AECORE_RAY_ADDRESS`), or None: train on this server."""
    text = os.environ.get(RAY_ADDRESS, "").strip()
    return check_ray_address(text) if text else None


def ray_cpus() -> float:
    """CPUs each job asks Ray for (`AECORE_RAY_CPUS`, default 1): at least 1, since a job that asks for a sliver
    of a CPU lets Ray start more jobs at once than the machines have CPUs (each trains on one CPU anyway)."""
    return env_float("AECORE_RAY_CPUS", 1.0, 1.0, 1024.0)


def ray_gpus() -> float:
    """GPUs (or shares of one) each job asks Ray for (`AECORE_RAY_GPUS`, default 0)."""
    return env_float("AECORE_RAY_GPUS", 0.0, 0.0, 64.0)


def teacher_password() -> str:
    """The teacher's password (`AECORE_TEACHER_PASSWORD`); empty, the default, when one person uses the app."""
    text = os.environ.get(TEACHER_PASSWORD, "")
    if text and not 8 <= len(text) <= 256:  # the length alone: the password itself is never put in a message
        raise ValueError(f"{TEACHER_PASSWORD} must have 8 to 256 characters, got {len(text)}; fix or unset it")
    return text


def current() -> dict[str, str]:
    """Every `AECORE_*` variable of this process but the teacher's password: what a worker process (or a
    cluster's) is handed with each task."""
    return {k: v for k, v in os.environ.items() if k.startswith(PREFIX) and k != TEACHER_PASSWORD}


def adopt(values: dict[str, str]) -> None:
    """Make `values` this process's `AECORE_*` variables (a worker, for the task it was handed)."""
    for key in [k for k in os.environ if k.startswith(PREFIX)]:
        del os.environ[key]
    os.environ.update({k: v for k, v in values.items() if k.startswith(PREFIX) and k != TEACHER_PASSWORD})


def keep_numba_cache() -> None:
    """Numba's compiled code (UMAP's) kept in the cache folder, unless the environment says where already."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))


def problems() -> list[str]:
    """One sentence for every setting with a bad value; empty when all are good."""
    checks: list[Callable[[], object]] = [max_jobs, max_compute, max_queued, threads, device, ray_address,
                                          teacher_password, max_job_minutes, max_runs_per_owner, pause_hold]
    if os.environ.get(RAY_ADDRESS, "").strip():  # the cluster's requests matter only with a cluster
        checks += [ray_cpus, ray_gpus]
    found = []
    for check in checks:
        try:
            check()
        except ValueError as err:
            found.append(str(err))
    return found
