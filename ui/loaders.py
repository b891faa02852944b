"""Run pickers and cached loaders that the analysis pages share (Compare, Latent space, Generate, ...).

Models and test splits are cached as resources: one read-only copy per process, shared by every
session, keyed by run id (a run's weights never change after it is saved).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import aecore.store.runs
from aecore.config import DataConfig
from aecore.data import DatasetUnavailable, Split, load_dataset, require_present
from aecore.store.runs import RunError, RunInfo
from ui.id_pickers import id_multiselect, id_selectbox
from ui.widgets import dataset_label
from ui.text import plain


def finished_runs(where: Callable[[RunInfo], bool] = lambda r: True) -> list[RunInfo]:
    """Saved runs that finished training (not stopped partway), newest first, filtered by `where`."""
    return [r for r in aecore.store.runs.list_runs() if r.ok and where(r)]


def run_label(run: RunInfo) -> str:
    """A run in a picker: its name and its data, short enough for a picker in half the page at 1400 px (its model
    and scores are on the page that shows it)."""
    return f"{run.name} ({dataset_label(run.dataset)})"


def show_no_runs(what: str) -> None:
    """The empty state: say what is missing and link to Train."""
    st.info(f"{what} Train one first; it appears here as soon as it finishes.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")


def finished_runs_or_stop(what: str) -> list[RunInfo]:
    """The finished runs, or the empty state (`what` says what is missing) and the end of this script run."""
    runs = finished_runs()
    if not runs:
        show_no_runs(what)
        st.stop()
    return runs


def run_picker(label: str, key: str, runs: list[RunInfo], help: str | None = None) -> RunInfo:
    """A selectbox over runs; the choice persists while the user moves between pages."""
    by_id = {r.id: r for r in runs}
    run_id = id_selectbox(label, list(by_id), key=key, format_func=lambda i: run_label(by_id[i]), help=help)
    return by_id[run_id]


def runs_picker(label: str, key: str, runs: list[RunInfo], default: int = 2, help: str | None = None) -> list[RunInfo]:
    """A multiselect over runs, preselecting the newest `default`."""
    by_id = {r.id: r for r in runs}
    ids = id_multiselect(label, list(by_id), key=key, format_func=lambda i: run_label(by_id[i]),
                         default=[r.id for r in runs[:default]], help=help)
    return [by_id[i] for i in ids]


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def cached_model(run_id: str, device: str = "cpu"):
    """The run's model in eval mode; shared read-only across sessions."""
    return aecore.store.runs.load_model(run_id, device=device)


@st.cache_resource(max_entries=6, show_spinner="Loading the images…")
def cached_test_split(dataset: str) -> Split:
    """The test images of a dataset; shared read-only across sessions."""
    return load_dataset(DataConfig(name=dataset))[1]


def load_model_or_stop(run: RunInfo):
    """The run's model, or a plain error and the end of this script run."""
    try:
        return cached_model(run.id)
    except RunError as err:
        st.error(f"This run cannot be opened: {plain(err)}")
        st.stop()


def load_test_or_stop(dataset: str) -> Split:
    """A dataset's test split, or a plain error saying how to get it and the end of this script run."""
    try:
        require_present(dataset)
        return cached_test_split(dataset)
    except DatasetUnavailable as err:
        st.error(f"The test images are not available: {plain(err)}")
        st.stop()
