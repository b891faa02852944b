"""Training work in the `on_progress`/`should_stop` style, on the one executor: `submit(fn, ...)` returns its id.

A task is a function that takes `on_progress(fraction, message)` and `should_stop()` as keyword arguments
(as `aecore.anomaly.one_class_demo` does). It runs as `train` work in `aecore.background`, because every
task here trains a model: it takes a training slot, so with `AECORE_MAX_JOBS=1` it never trains at the same
time as a training job. Everything else (snapshots, shared keys, stopping, rejoining, forgetting) is
`aecore.background`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from . import background
from .background import Context, Executor


def submit(fn: Callable[..., Any], *args: Any, key: Hashable | None = None, executor: Executor | None = None,
           **kwargs: Any) -> str:
    """Run `fn(*args, **kwargs, on_progress=..., should_stop=...)` as train work; returns its id (shared for `key`)."""

    def work(ctx: Context) -> Any:
        return fn(*args, **kwargs, on_progress=ctx.report, should_stop=ctx.should_stop)

    return (executor or background.executor()).submit(work, "train", key)

