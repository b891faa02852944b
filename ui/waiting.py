"""Waiting on background work from a page: `wait_for(work_id, label)`, one polling helper for every kind of work.

Pages submit long work to `aecore.background` and keep its id; this helper never runs the work. Work that
finishes within `QUICK_SECONDS` comes back at once (no bar flashing). Otherwise a fragment polls the
snapshot, shows its progress, its place in line and the time taken, and reruns the whole page once the work
has ended, so the script run itself is never held up: a rerun, a page switch or a closed tab leaves the work
running, and whoever asks for the same key next joins it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from aecore import background
from aecore.background import Snapshot
from ui.text import plain

QUICK_SECONDS = 0.3  # work done this fast never shows a progress bar
POLL_SECONDS = 0.5
UNWATCHED_AFTER = 10.0  # seconds without a poll: the page moved on or closed, so the work is dropped or stopped


def wait_for(work_id: str, label: str, stop_key: str | None = None) -> Snapshot | None:
    """The work's finished snapshot; else None, with a polling fragment drawn here. `stop_key` adds a Stop button.

    Raises KeyError for an id the executor does not know.
    """
    try:
        return background.wait(work_id, QUICK_SECONDS)
    except TimeoutError:
        st.fragment(show_waiting, run_every=POLL_SECONDS)(work_id, label, stop_key)
        return None


def result_of(work_id: str, label: str, failure: str) -> Any | None:
    """The result of work done well; else None, with its progress drawn, or `failure` and the error's details."""
    snapshot = wait_for(work_id, label)
    if snapshot is None:
        return None
    if snapshot.state != "done":
        st.error(failure, icon=":material/error:")
        if snapshot.error or snapshot.message:
            st.caption(f"Details: {plain(snapshot.error or snapshot.message)}")
        return None
    return snapshot.result


def show_waiting(work_id: str, label: str, stop_key: str | None = None) -> None:
    """One poll: the progress of unfinished work; the page is rerun once it has ended (or been forgotten)."""
    try:
        s = background.snapshot(work_id)
    except KeyError:
        st.rerun()
    if s.finished:
        st.rerun()
    if s.state == "queued":
        ahead = "next in line" if s.queue_position == 1 else f"{s.queue_position - 1} ahead of it in line"
        text = f"{label}: waiting for other work to finish ({ahead})"
    else:
        so_far = f"{s.elapsed:.0f} s so far"  # beside a map's "about 3 s left", a bare "25 s" reads as another estimate
        text = f"{label}: {s.message} · {so_far}" if s.message else f"{label}… {so_far}"
    st.progress(s.fraction, text=text)
    if stop_key:
        st.button("Stop", key=stop_key, icon=":material/stop_circle:", on_click=background.stop, args=(work_id,),
                  help="Stop this work; nothing is kept.")
