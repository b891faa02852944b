"""How a training job looks: live progress while it trains, and what happened once it has finished.

`show_job_progress(job_id, was_finished)` is the body of the Train page's polling fragment: a progress
bar, speed and time left, Stop; then the final scores, or a plain word on what went wrong and what to do.
`show_job_curves(job_id)`, a slower fragment of its own, draws the live loss chart and the strip of test images
against their reconstructions after every epoch.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

import aecore.jobs
from aecore.prepare import measuring_speed
from aecore.config import RunConfig
from aecore.failures import GENERIC_ADVICE
from aecore.reference import pca_at
from aecore.settings import pause_hold
from aecore.store.runs import RunError, load_run
from ui.charts import loss_figure
from ui.images import FONT_SIZE, labelled_rows
from ui.widgets import format_duration, show_metrics
from ui.presenter import IMAGE_SCALE, presenting
from ui.text import plain
from ui.visitor import current_visitor

STRIP_ROWS = 6  # reconstruction rows at most; the newest epoch is always the last
SOMEONE_ELSES = ("Someone else started this model: you can watch it learn, and only they (or the teacher) can "
                 "pause or stop it.")


def pca_beside(cfg: RunConfig) -> tuple[dict[str, float] | None, int]:
    """PCA's scores at the run's code size on its dataset, where the benchmark measured them, and that code size."""
    return pca_at(cfg.data.name, cfg.model.latent_dim), cfg.model.latent_dim


def show_job_progress(job_id: str, was_finished: bool) -> None:
    """One poll of the job: its state, then its curves and images so far."""
    try:
        p = aecore.jobs.progress(job_id)
    except KeyError:
        st.info("That training job is not running any more. Every model that finished is on the Runs page.")
        return
    if p.finished and not was_finished:
        st.rerun()  # redraw the whole page once: the outcome, the sidebar, and no more polling
    if p.state == "queued":
        show_queued(p)
    elif p.state in ("running", "paused"):
        show_running(p)
    else:
        show_outcome(p)
    if p.finished:
        show_curves(p)


def show_job_curves(job_id: str) -> None:
    """One poll of the curves and pictures of a job still training: a fragment of its own, drawn every
    `CURVE_SECONDS` rather than with each progress poll. The browser redrawing the loss chart at every poll
    took half its CPU beside the job (6.5 s of 20 s against 3.2 s without the chart, fashion-mlp on 2 cores)."""
    try:
        p = aecore.jobs.progress(job_id)
    except KeyError:
        return
    if not p.finished:  # the progress fragment reruns the page, which draws them with the outcome
        show_curves(p)


def progress_text(p: aecore.jobs.Progress) -> str:
    """'Epoch 2/5 · batch 120/350', or what happens before the first batch."""
    if not p.total_steps:
        return "Loading the data and building the model…"
    per_epoch = max(1, math.ceil(p.total_steps / max(1, p.total_epochs)))
    batch = min(per_epoch, max(1, p.step - (p.epoch - 1) * per_epoch))
    return f"Epoch {p.epoch}/{p.total_epochs} · batch {batch}/{per_epoch}"


def show_queued(p: aecore.jobs.Progress) -> None:
    ahead = "next in line" if p.queue_position == 1 else f"number {p.queue_position} in line"
    if p.step:  # resumed after a long pause gave its place away
        text = (f"Waiting to carry on: this model is {ahead}. It gave its training place to another model while it "
                "was paused, and carries on from where it stopped as soon as a place is free.")
    elif aecore.jobs.on_cluster():
        text = (f"Waiting to start: this model is {ahead} among this server's models waiting for the cluster. It "
                "starts as soon as the cluster has a free worker for it.")
    elif measuring_speed():
        text = (f"Waiting to start: this model is {ahead}. The app is measuring how fast this computer trains (a "
                "few seconds, once), and this model starts as soon as a training place is free.")
    else:
        text = (f"Waiting to start: this model is {ahead}. Another model is training, and this one starts as soon "
                "as a training place is free.")
    st.info(text, icon=":material/hourglass_top:")
    if not current_visitor().may_change(p.owner):
        st.caption(SOMEONE_ELSES)
    elif st.button("Stop", key="stop", icon=":material/stop_circle:", help="Take this model out of the queue."):
        aecore.jobs.stop(p.job_id)
        st.rerun()


def show_running(p: aecore.jobs.Progress) -> None:
    paused = p.state == "paused"
    st.progress(p.fraction, text=("Paused · " if paused else "") + progress_text(p))
    if paused and p.parked:
        st.info("Paused. The model and what it has learned are kept, but it was paused so long that its training "
                "place went to the next model in line. Resume carries on from this batch as soon as a place is free.",
                icon=":material/pause_circle:")
    elif paused and aecore.jobs.on_cluster():
        st.info("Paused. The model, what it has learned and its worker on the cluster are kept: Resume carries on "
                "from this batch.", icon=":material/pause_circle:")
    elif paused:
        hold = format_duration(pause_hold())
        st.info("Paused. The model, what it has learned and its place in training are kept: Resume carries on "
                f"from this batch. If another model is waiting, after {hold} paused this one lets it have the "
                "training place, and takes the next free one once resumed.", icon=":material/pause_circle:")
    loss, speed, left, elapsed = st.columns(4)
    loss.metric("Loss", f"{p.loss:.4f}" if p.loss is not None else "—",
                help="The training loss of the latest batch: how far the reconstructions are from the images.")
    speed.metric("Images / s", f"{p.images_per_sec:,.0f}" if p.images_per_sec else "—",
                 help="How many images the model learns from each second.")
    left.metric("Time left", format_duration(p.eta_seconds) if p.step else "—")
    elapsed.metric("Elapsed", format_duration(p.elapsed))
    if not current_visitor().may_change(p.owner):
        st.caption(SOMEONE_ELSES)
        return
    keep_col, pause_col, stop_col = st.columns([2, 1, 1], vertical_alignment="center")
    if paused:
        pause_col.button("Resume", key="resume", icon=":material/play_circle:", width="stretch",
                         on_click=aecore.jobs.resume, args=(p.job_id,), help="Carry on training from where it paused.")
    else:
        pause_col.button("Pause", key="pause", icon=":material/pause_circle:", width="stretch",
                         on_click=aecore.jobs.pause, args=(p.job_id,),
                         help="Hold training after the current batch; Resume carries on exactly where it was.")
    keep = keep_col.checkbox("Keep the partial model", key="keep_partial",
                             help="When you stop, save what the model has learned so far as a run marked 'stopped'.")
    if stop_col.button("Stop", key="stop", icon=":material/stop_circle:", width="stretch",
                       help="Stop training after the current batch."):
        aecore.jobs.stop(p.job_id, keep=keep)
        st.toast("Stopping after the current batch…", icon=":material/stop_circle:")


def run_name(run_id: str | None) -> str | None:
    try:
        return load_run(run_id).name if run_id else None
    except RunError:
        return None  # deleted meanwhile


def show_outcome(p: aecore.jobs.Progress) -> None:
    name = run_name(p.run_id)
    if p.state == "done":
        saved = f" Saved as {plain(name)}." if name else ""
        st.success(f"Finished in {format_duration(p.elapsed)}.{saved}", icon=":material/check_circle:")
        if p.message:
            st.caption(f"Stopped early: {p.message}.")
        show_metrics(p.metrics, *pca_beside(p.config))
    elif p.state == "no_better":
        lr = p.config.train.lr
        saved = (f" It was saved as {plain(name)}, marked so, and is left out of the pages that compare models."
                 if name else "")
        st.warning(f"Finished, but this model redraws the test images no better than the average image would.{saved} "
                   f"Lower the learning rate (try {lr / 10:.2g}) or train for more epochs, and click Train again.",
                   icon=":material/warning:")
        st.caption(f"Details: {plain(p.message)}")
        show_metrics(p.metrics, *pca_beside(p.config))
    elif p.state == "stopped":
        if name:
            st.warning(f"Stopped. The partial model was saved as {plain(name)}, marked as stopped.",
                       icon=":material/stop_circle:")
            show_metrics(p.metrics, *pca_beside(p.config))
        else:
            st.info("Stopped, and nothing was saved. To keep what a model has learned so far, tick "
                    "“Keep the partial model” before you click Stop.", icon=":material/stop_circle:")
    elif p.state == "diverged":
        lr = p.config.train.lr
        st.error(f"Training went off the rails: the loss exploded, so nothing was saved. "
                 f"Lower the learning rate (try {lr / 3:.2g}) and click Train again.", icon=":material/error:")
        st.caption(f"Details: {plain(p.message)}")
    else:
        st.error(p.advice or GENERIC_ADVICE, icon=":material/error:")
        st.caption(f"Details: {plain(p.message)}")
    if p.run_id:
        st.page_link("pages/runs.py", label="See it with your other runs", icon=":material/inventory_2:")


def show_curves(p: aecore.jobs.Progress) -> None:
    """The loss chart and the strip of originals over reconstructions, epoch by epoch."""
    chart, pictures = st.columns([2, 3], gap="large") if presenting() else (st.container(), st.container())
    if p.curve or p.epochs:
        figure = loss_figure(p.curve, p.epochs, p.total_steps, p.total_epochs)
        if presenting():  # readable from the back of the room (its font follows presenter mode already)
            figure.update_layout(height=480)
        chart.plotly_chart(figure, key="loss_chart",
                           config={"displayModeBar": False}, alt="Training and validation loss falling over the epochs")
    if p.originals is not None and p.recons:
        pictures.image(strip_image(p.originals, p.recons, scale=2 * (IMAGE_SCALE if presenting() else 1)), width="stretch",
                       alt="Test images in the top row, and the model's reconstructions of them after each epoch below")
        pictures.caption("Top row: test images the model never trains on. Below: how the model redrew them after "
                         "each epoch (the untrained model first, the newest at the bottom).")


def strip_image(originals: np.ndarray, recons: tuple[tuple[int, np.ndarray], ...], max_rows: int = STRIP_ROWS,
                scale: int = 2):
    """Originals above at most `max_rows` reconstruction rows, spread over the epochs so far."""
    keep = np.unique(np.linspace(0, len(recons) - 1, min(max_rows, len(recons))).round().astype(int))
    shown = [recons[i] for i in keep]
    labels = ["Original", *("Untrained" if epoch == 0 else f"Epoch {epoch}" for epoch, _ in shown)]
    return labelled_rows([originals, *(images for _, images in shown)], labels, scale=scale, label_width=55 * scale,
                          font_size=FONT_SIZE * scale // 2)
