"""Units of work for the worker pool's tests: each ends or holds its worker as real work can."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def crash(how: str, ctx: Any) -> None:
    """End the worker as a native library's fault would, or as the system does when memory runs out."""
    ctx.report(0.0, "about to crash")
    os.kill(os.getpid(), {"segfault": signal.SIGSEGV, "kill": signal.SIGKILL}[how])


def wait_then(value: Any, seconds: float, ctx: Any) -> Any:
    """Wait `seconds`, reporting and asking to stop every 10 ms (waiting while paused), then return `value`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.report(0.0, "waiting")
        time.sleep(0.01)
    return value


def hold(seconds: float, ctx: Any) -> str:
    """A native call that never asks to stop, as a map's optimisation can be."""
    time.sleep(seconds)
    return "held"


def pid_and_setting(ctx: Any) -> tuple[int, str | None]:
    """Where the unit ran and the runs folder it was handed."""
    return os.getpid(), os.environ.get("AECORE_RUNS_DIR")


def fail(ctx: Any) -> None:
    raise ValueError("a unit's own error")


def modules(names: tuple[str, ...], ctx: Any) -> list[bool]:
    """Which of these modules the worker has imported."""
    import sys

    return [name in sys.modules for name in names]
