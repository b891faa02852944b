"""The sidebar every page shares: what is training now, with a link to watch it.

`show_sidebar()` polls the job registry every few seconds only while a job is queued or running, and
refreshes the whole page once when the last one finishes, so a new run shows up wherever the user is.
"""

from __future__ import annotations

import streamlit as st

import aecore.jobs
from aecore.names import default_name
from ui.text import plain

POLL_SECONDS = 2.0


def show_sidebar() -> None:
    """Training status, below the page navigation (the server's folders mean nothing to a visitor: not shown)."""
    with st.sidebar:
        busy = bool(active_jobs())
        st.fragment(show_training_now, run_every=POLL_SECONDS if busy else None)(busy)


def active_jobs() -> list[aecore.jobs.Progress]:
    """Queued and running jobs, oldest first."""
    return [p for p in reversed(aecore.jobs.list_jobs()) if not p.finished]


def job_name(p: aecore.jobs.Progress) -> str:
    return p.config.name or default_name(p.config)


def show_training_now(was_busy: bool) -> None:
    jobs = active_jobs()
    if was_busy and not jobs:
        st.rerun()  # the last job just finished: redraw the page so its run appears
    st.markdown("**Training now**")
    running = [p for p in jobs if p.state in ("running", "paused")]  # a paused job is shown with the training ones
    if not running:
        st.caption("Nothing is training.")
    for p in running:
        text = f"Epoch {p.epoch}/{p.total_epochs}" if p.epoch else "Starting…"
        text = ("Paused · " if p.state == "paused" else "") + text
        st.progress(p.fraction, text=f"{plain(job_name(p))} · {text}")
        st.page_link("pages/train.py", label="Watch it train", icon=":material/monitoring:",
                     query_params={"job": p.job_id})
    waiting = len(jobs) - len(running)
    if waiting:
        st.caption(f"{waiting} more waiting in line.")
