"""Give memory that the process no longer uses back to the operating system: `trim()`, `release()`, `start_trimming()`.

glibc keeps what threads free in per-thread arenas, and an app server's script and training threads come
and go. After ten browser sessions had trained and browsed and closed, the app's resident memory stayed at
837 MB against 675 MB before them; one `malloc_trim(0)` brought it to 646 MB. Other allocators (macOS,
Windows, musl) return memory on their own, so there `trim()` does nothing.

The app turns off Streamlit's full garbage collection after every script run (0.26 s holding the GIL each
time with torch loaded, see .streamlit/config.toml), so the trimming thread collects the young generations'
reference cycles itself first, once per period.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import functools
import sys
import threading
import time

from .background import keep_running

TRIM_EVERY_SECONDS = 20.0
YOUNG = 1  # the generations `release` collects: 0 and 1

_libc = None


def _malloc_trim():
    global _libc
    if not sys.platform.startswith("linux"):
        return None
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        except OSError:
            _libc = False
    return getattr(_libc, "malloc_trim", None) if _libc else None


def trim() -> bool:
    """Return freed heap memory to the system where the C library allows it; whether it could."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)  # ctypes releases the GIL for the call: other threads keep running
    return True


def release() -> None:
    """Collect the reference cycles of the young generations, then trim: what the trimming thread does each period.

    Not a full collection: that walks every object of the server (torch's, plotly's, every session's) holding the
    GIL, and every 20 s it stalled every page and the health endpoint for 0.3-0.6 s (its 99th percentile 627 ms
    while a job and two maps ran; `benchmarks/bench_app.py`). Python's own collector still collects the oldest
    generation once it has grown by a quarter."""
    gc.collect(YOUNG)
    trim()


def start_trimming(every: float = TRIM_EVERY_SECONDS) -> threading.Thread:
    """Collect garbage and trim every `every` seconds on a daemon thread, once per process; returns the thread."""
    return keep_running("aecore-trim", functools.partial(_trim_forever, every))


def _trim_forever(every: float) -> None:
    while True:
        time.sleep(every)
        release()
