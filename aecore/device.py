"""Device choice and per-process torch settings: `pick_device()`, `set_threads()`, fused Adam, autocast.

The caller picks the device once and passes it down; models never choose one.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable

import torch

_threads_set = False
_warm_up_lock = threading.Lock()
_warm_up_thread: threading.Thread | None = None


def pick_device(prefer: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; `prefer` (or AECORE_DEVICE) forces one of them."""
    prefer = os.environ.get("AECORE_DEVICE", prefer)
    if prefer != "auto":
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads once per process (AECORE_THREADS, default: all cores)."""
    global _threads_set
    if not _threads_set:
        n = n or int(os.environ.get("AECORE_THREADS", "0")) or (os.cpu_count() or 1)
        torch.set_num_threads(n)
        _threads_set = True
    return torch.get_num_threads()


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


def warm_up() -> threading.Thread:
    """Make the process's first Adam step on a tiny model in a background thread, once; later calls return it.

    The first optimiser in a process imports torch._dynamo (1.6 s on a 2-core CPU); done ahead of time,
    that wait stays off the first Train click.
    """
    global _warm_up_thread
    with _warm_up_lock:
        if _warm_up_thread is None:
            _warm_up_thread = threading.Thread(target=_one_step, name="aecore-warm-up", daemon=True)
            _warm_up_thread.start()
        return _warm_up_thread


def _one_step() -> None:
    layer = torch.nn.Linear(4, 4)
    opt = make_adam(layer.parameters(), 1e-3, 0.0, torch.device("cpu"))
    layer(torch.ones(2, 4)).square().mean().backward()
    opt.step()
