"""Runs: every saved model in a table, and for the chosen one its preview, scores, rename, download and delete.

Runs come from aecore's run store on every rerun, so a model that finishes training shows up at once.
Uploading a zip made by Download adds a run; a refused file says why.
"""

from __future__ import annotations

import functools

import streamlit as st

import aecore.store.runs
from aecore.owners import label
from aecore.store.runs import RunError, RunInfo
from ui.id_pickers import id_selectbox
from ui.images import enlarge_png
from ui.runs import file_name, import_zip, local_times, runs_table, settings_text, status_warning
from ui.shell import require_shell
from ui.widgets import show_metrics
from ui.text import plain
from ui.visitor import current_visitor

require_shell()

NOT_YOURS = ("Someone else trained this model: you can look at it, compare it and download it, and only they (or "
             "the teacher) can rename or delete it.")


COLUMNS = ("Name", "Status", "Model", "Dataset", "Looks alike", "Time", "Date")
# pixels: together they fit the page at 1400 px, and each holds its longest text (a default run name, a dataset,
# a date) without an ellipsis
WIDTHS = {"Name": 260, "Status": 90, "Model": 135, "Dataset": 150, "Looks alike": 90, "Time": 75, "Date": 130,
          "Who": 105}


def show_table(runs: list[RunInfo]) -> None:
    help_texts = {
        "Status": "A stopped run holds a partial model: it trained for fewer epochs than asked.",
        "Looks alike": "How alike its redrawn test images look to the real ones (SSIM as a percentage).",
        "Time": "How long it trained.",
        "Who": "Who trained it: You, another visitor (each browser has its own made-up name), or No owner for a "
               "model added from a file or made before this server had a class.",
    }
    visitor = current_visitor()
    order = (*COLUMNS, "Who") if visitor.classroom else COLUMNS  # on a shared server: whose each run is
    columns = {col: st.column_config.TextColumn(col, width=WIDTHS[col], help=help_texts.get(col)) for col in order}
    columns["Date"] = st.column_config.DatetimeColumn("Date", width=WIDTHS["Date"], format="D MMM YYYY, HH:mm")
    table = runs_table(runs, st.context.timezone)
    if visitor.classroom:
        table["Who"] = ["You" if visitor.owns(r.owner) else label(r.owner) for r in runs]
    st.dataframe(table, hide_index=True, key="runs_table", column_order=order, column_config=columns)


def run_controls(runs: list[RunInfo]) -> RunInfo:
    """The run picker; returns the chosen run."""
    by_id = {r.id: r for r in runs}
    saved = {i: f"{t.day} {t:%b %Y, %H:%M}" for i, t in zip(by_id, local_times(runs, st.context.timezone))}
    if st.session_state.get("run") is None:
        st.session_state.pop("new_name", None)
    run_id = id_selectbox("Run", list(by_id), key="run", on_change=reset_name, args=(by_id,),
                          format_func=lambda i: f"{by_id[i].name}  ·  {saved[i]}",
                          help="The run to look at, rename, download or delete; the newest comes first.")
    run = by_id[run_id]
    if st.session_state.get("new_name") in (None, st.session_state.get("name_shown")):
        st.session_state.new_name = run.name  # untouched by the user: follows a rename made in another window
    st.session_state.name_shown = run.name
    return run


def reset_name(by_id: dict[str, RunInfo]) -> None:
    st.session_state.new_name = by_id[st.session_state.run].name
    st.session_state.pop("pending_delete", None)


def may_change(run_id: str) -> bool:
    """Whether this visitor may rename or delete the run, asked again at the click: a shared server's runs
    are their owners' (and the teacher's) to change."""
    try:
        owner = aecore.store.runs.load_run(run_id).owner
    except RunError:
        return True  # the store's own call says what is wrong with the run
    if current_visitor().may_change(owner):
        return True
    st.session_state.runs_notice = ("error", NOT_YOURS)
    return False


def rename(run_id: str) -> None:
    if not may_change(run_id):
        return
    try:
        info = aecore.store.runs.rename_run(run_id, st.session_state.new_name)
    except RunError as err:
        st.session_state.runs_notice = ("error", f"Could not rename the run: {plain(err)}")
        return
    st.session_state.new_name = info.name
    st.session_state.run = run_id  # the picker shows the new name at once
    st.session_state.runs_notice = ("success", f"Renamed to {plain(info.name)}.")


def delete(run_id: str) -> None:
    if not may_change(run_id):
        st.session_state.pop("pending_delete", None)
        return
    try:
        aecore.store.runs.delete_run(run_id)
    except (RunError, OSError) as err:
        st.session_state.runs_notice = ("error", f"Could not delete the run: {plain(err)}")
    else:
        st.session_state.runs_notice = ("success", "The run was deleted.")
    st.session_state.pop("pending_delete", None)
    st.session_state.pop("run", None)


def check_download(run_id: str) -> None:
    """After a click on Download: a run deleted meanwhile (in another window) cannot be exported, so say why."""
    try:
        aecore.store.runs.load_run(run_id)
    except RunError as err:
        st.session_state.runs_notice = ("error", f"Could not download the run: {plain(err)}")


def import_upload() -> None:
    upload = st.session_state.get("upload")
    if upload is not None:
        kind, message, run_id = import_zip(upload.getvalue(), added_by=current_visitor().owner)
        st.session_state.runs_notice = (kind, message)
        if run_id:
            st.session_state.run = run_id
            st.session_state.pop("new_name", None)


def show_notice() -> None:
    notice = st.session_state.pop("runs_notice", None)
    if notice:
        kind, message = notice
        {"success": st.success, "warning": st.warning}.get(kind, st.error)(message)


def show_run(run: RunInfo) -> None:
    preview, details = st.columns([2, 3], gap="large")
    with preview:
        try:
            png = aecore.store.runs.read_preview(run.id)
        except RunError as err:  # a damaged preview, or the run deleted in another window meanwhile
            st.info(f"The preview cannot be shown: {plain(err)}", icon=":material/info:")
            png = b""
        if png:
            st.image(enlarge_png(png), width="stretch", alt="Test images above this model's reconstructions of them",
                     caption="Top: test images. Bottom: how this model redraws them.")
        elif png is None:
            st.caption("This run has no preview image.")
    with details:
        st.markdown(f"#### {plain(run.name)}")
        st.caption(settings_text(run))
        if warning := status_warning(run):
            st.warning(warning, icon=":material/warning:")
        show_metrics(run.metrics)
        show_actions(run)


def show_actions(run: RunInfo) -> None:
    if not current_visitor().may_change(run.owner):
        download_button(run, st)
        st.caption(NOT_YOURS)
        return
    name_col, rename_col = st.columns([3, 1], vertical_alignment="bottom")
    name_col.text_input("Name", key="new_name", max_chars=200, help="A name you will recognise in lists and charts.")
    rename_col.button("Rename", key="rename", on_click=rename, args=(run.id,), width="stretch")
    download_col, delete_col = st.columns(2)
    download_button(run, download_col)
    if st.session_state.get("pending_delete") != run.id:
        delete_col.button("Delete", key="delete", icon=":material/delete:", width="stretch",
                          on_click=lambda: st.session_state.update(pending_delete=run.id))
        return
    st.warning(f"Delete {plain(run.name)} for good? Its model and history are removed. Download it first if you may "
               "want it back.", icon=":material/delete:")
    yes, no = st.columns(2)
    yes.button("Yes, delete it", key="confirm_delete", type="primary", on_click=delete, args=(run.id,), width="stretch")
    no.button("Cancel", key="cancel_delete", width="stretch",
              on_click=lambda: st.session_state.pop("pending_delete", None))


def download_button(run: RunInfo, where) -> None:
    where.download_button("Download (.zip)", data=functools.partial(aecore.store.runs.export_run, run.id),
                          file_name=file_name(run.name), mime="application/zip", key="download_run",
                          icon=":material/download:", on_click=check_download, args=(run.id,), width="stretch",
                          help="The model and its history in one file, to keep or to add to another studio.")


def upload_controls() -> None:
    st.file_uploader("Add a run from a .zip file", type=["zip"], key="upload", on_change=import_upload,
                     help="A zip made with Download on this page, here or in another Autoencoder Studio.")


st.title("Runs")
st.caption("Every model you have trained, with its scores. Pick one to see how it redraws images.")
show_notice()
errors: list[RunError] = []
runs = aecore.store.runs.list_runs(errors=errors)
if errors:
    st.warning(f"{len(errors)} run folder(s) could not be read and are not listed: {plain(errors[0])}",
               icon=":material/warning:")
if runs:
    show_table(runs)
    show_run(run_controls(runs))
else:
    st.info("No saved runs yet. Train a model and it appears here as soon as it finishes.", icon=":material/info:")
    st.page_link("pages/train.py", label="Train your first model", icon=":material/play_arrow:")
st.divider()
upload_controls()
