"""Class: the teacher's view of a shared server, every visitor's training and a gallery of the finished models.

Only a session that entered the teacher's password has this page (app.py adds it); it stops, pauses and
resumes anyone's job, and its gallery lines the finished runs up side by side, one plain score each, for the
projector. Owners are shown by their short labels ("Visitor 3F9A"): the app knows no names of people.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

import aecore.jobs
import aecore.store.runs
from aecore.names import default_name
from aecore.owners import label
from aecore.store.runs import RunError, RunInfo
from ui.id_pickers import id_selectbox
from ui.images import enlarge_png
from ui.runs import looks_alike
from ui.shell import require_shell
from ui.text import plain
from ui.visitor import current_visitor
from ui.widgets import STATUS_LABELS, dataset_label, format_duration, model_label

require_shell()

GALLERY_COLUMNS = 4
GALLERY_PAGE = 12  # runs per gallery page: a projector shows three rows of four
POLL_SECONDS = 2.0
STATE_WORDS = {"queued": "Waiting", "running": "Training", "paused": "Paused", "done": "Finished",
               "no_better": "No better than average", "stopped": "Stopped", "diverged": "Blew up", "failed": "Failed"}


def jobs_table(jobs: list[aecore.jobs.Progress]) -> pd.DataFrame:
    return pd.DataFrame({
        "Who": [label(p.owner) for p in jobs],
        "Model": [p.config.name or default_name(p.config) for p in jobs],  # a table shows text as text
        "State": [STATE_WORDS.get(p.state, p.state) + (f" (number {p.queue_position} in line)" if p.queue_position
                                                         else "") for p in jobs],
        "Time used": [format_duration(p.elapsed) for p in jobs],
        "Settings": [f"{model_label(p.config.model.kind)} · code size {p.config.model.latent_dim} · "
                     f"{dataset_label(p.config.data.name)} · {p.config.train.epochs} epochs" for p in jobs],
    })


def job_label(p: aecore.jobs.Progress) -> str:
    return f"{label(p.owner)} · {p.config.name or default_name(p.config)}"


def show_jobs() -> None:
    """Every job the server knows, newest first, and the controls for one of them."""
    jobs = aecore.jobs.list_jobs()
    active = [p for p in jobs if not p.finished]
    st.subheader(f"Training: {len(active)} waiting or training")
    if not jobs:
        st.caption("Nobody has trained a model on this server since it started.")
        return
    st.dataframe(jobs_table(jobs), hide_index=True, width="stretch")
    if not active:
        return
    by_id = {p.job_id: p for p in active}
    job_id = id_selectbox("Job", list(by_id), key="class_job", format_func=lambda i: job_label(by_id[i]))
    p = by_id[job_id]
    pause_col, stop_col, _ = st.columns([1, 1, 3])
    if p.state == "paused":
        pause_col.button("Resume", key="class_resume", icon=":material/play_circle:", width="stretch",
                         on_click=aecore.jobs.resume, args=(job_id,))
    elif p.state == "running":
        pause_col.button("Pause", key="class_pause", icon=":material/pause_circle:", width="stretch",
                         on_click=aecore.jobs.pause, args=(job_id,))
    stop_col.button("Stop", key="class_stop", icon=":material/stop_circle:", width="stretch",
                    on_click=aecore.jobs.stop, args=(job_id,), help="Stop it; nothing of it is saved.")


def gallery_card(run: RunInfo) -> None:
    with st.container(border=True):
        try:
            png = aecore.store.runs.read_preview(run.id)
        except RunError:
            png = None
        if png:
            st.image(enlarge_png(png), width="stretch", alt=f"Test images above {run.name}'s reconstructions")
        else:
            st.caption("No picture saved with this model.")
        st.markdown(f"**{plain(run.name)}**")
        status = "" if run.ok else f" · {STATUS_LABELS.get(run.status, run.status)}"
        st.caption(f"{label(run.owner)} · looks {looks_alike(run.metrics.get('ssim'))} alike{status}")


def show_gallery() -> None:
    """The finished runs side by side, newest first, a page of them at a time."""
    runs = aecore.store.runs.list_runs()
    st.subheader(f"Gallery: {len(runs)} models")
    if not runs:
        st.caption("No saved models yet.")
        return
    pages = math.ceil(len(runs) / GALLERY_PAGE)
    page = st.number_input("Gallery page", min_value=1, max_value=pages, value=1, step=1, key="gallery_page",
                           help=f"{GALLERY_PAGE} models a page, newest first.") if pages > 1 else 1
    shown = runs[(page - 1) * GALLERY_PAGE: page * GALLERY_PAGE]
    for row in range(0, len(shown), GALLERY_COLUMNS):
        for col, run in zip(st.columns(GALLERY_COLUMNS), shown[row:row + GALLERY_COLUMNS]):
            with col:
                gallery_card(run)


st.title("Class")
if not current_visitor().teacher:  # the page is only in a teacher's navigation; a stale link says so
    st.info("This page is for the teacher: sign in with the teacher's password in the sidebar.",
            icon=":material/school:")
    st.stop()
st.caption("Everyone's training on this server, and every finished model side by side. As the teacher you can "
           "pause or stop anyone's training here, and rename or delete any model on the Runs page.")
st.fragment(show_jobs, run_every=POLL_SECONDS)()
st.divider()
show_gallery()
