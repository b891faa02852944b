"""Settings read from the environment (`AECORE_MAX_JOBS`, `AECORE_THREADS`), checked like any other input.

`env_int(name, default, lo, hi)` returns the variable as a whole number within bounds, or raises a
ValueError that names the variable, so a typo in a deployment fails with a sentence, not a traceback deep in
torch, and a value such as `AECORE_MAX_JOBS=0` cannot leave every job waiting for a slot that never opens.
"""

from __future__ import annotations

import os


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
