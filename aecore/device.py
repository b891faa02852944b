"""Device choice and per-process torch settings: `pick_device()`, `set_threads()`, fused Adam, autocast.

The caller picks the device once and passes it down; models never choose one.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable
from pathlib import Path

import torch

from . import settings
from .settings import check_device_name

_threads_set = False


def pick_device(prefer: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; `prefer` (or AECORE_DEVICE) forces one, which must be present here."""
    prefer = settings.device(prefer)
    if prefer != "auto":
        return _present(check_device_name(prefer))
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _present(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"{name} is not available on this machine ({torch.cuda.device_count()} CUDA devices); "
                         "choose auto or cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("mps (Apple GPU) is not available on this machine; choose auto or cpu")
    return device


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads once per process (AECORE_THREADS, default: every CPU it may use)."""
    global _threads_set
    if not _threads_set:
        n = n or settings.threads() or available_cpus()
        torch.set_num_threads(n)
        _threads_set = True
    return torch.get_num_threads()


def available_cpus(cgroup_root: str | Path = "/sys/fs/cgroup", membership: str | Path = "/proc/self/cgroup") -> int:
    """CPUs this process may run on: its affinity mask, capped by its cgroup's CPU quota (rounded up).

    `os.cpu_count()` counts the machine's CPUs; a pinned process or a container with a quota gets fewer,
    and a thread per machine CPU then only waits for its turn.
    """
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = cgroup_cpu_limit(cgroup_root, membership)
    return max(1, min(n, math.ceil(limit)) if limit is not None else n)


def cgroup_cpu_limit(root: str | Path = "/sys/fs/cgroup", membership: str | Path = "/proc/self/cgroup") -> float | None:
    """The tightest CPU quota, in CPUs, on this process's cgroup or a parent of it; None when there is none.

    Reads cgroup v2 `cpu.max` and v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`. The mounts themselves are
    read too: inside a container they are the container's own cgroup, whatever /proc/self/cgroup says.
    """
    root = Path(root)
    places = {(root, ""), (root / "cpu", "")}
    with contextlib.suppress(OSError):
        for line in Path(membership).read_text().splitlines():
            parts = line.split(":", 2)  # hierarchy id : controllers : path
            if len(parts) != 3:
                continue
            _, controllers, path = parts
            if controllers == "":
                places.add((root, path.strip("/")))
            elif "cpu" in controllers.split(","):
                places |= {(root / "cpu", path.strip("/")), (root / controllers, path.strip("/"))}
    limits = []
    for mount, path in places:
        folder = mount / path
        limits.append(_cgroup_quota(folder))
        while folder != mount:
            folder = folder.parent
            limits.append(_cgroup_quota(folder))
    return min((q for q in limits if q is not None), default=None)


def _cgroup_quota(folder: Path) -> float | None:
    try:
        if (folder / "cpu.max").is_file():
            quota, period = (folder / "cpu.max").read_text().split()[:2]
        else:
            quota, period = ((folder / f"cpu.cfs_{k}_us").read_text().strip() for k in ("quota", "period"))
        if quota == "max" or int(quota) <= 0:
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def make_adam(params: Iterable, lr: float, weight_decay: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam with the fused kernel (one kernel for all parameters) where this build and device have it."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=device.type in ("cuda", "cpu", "mps"))
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast when asked for, a no-op otherwise."""
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
