"""Saved runs in words people read: the runs table, a one-line settings summary, and zip import with its outcome.

`runs_table(runs, timezone)` is the Runs page's table; `import_zip(data)` adds an exported run and turns a
refusal into a message instead of an exception. Nothing here draws; pages do.
"""

from __future__ import annotations

import re

import pandas as pd

import aecore.store.runs
from aecore.store import collections
from aecore.settings import max_runs_per_owner
from aecore.store.runs import RunError, RunInfo
from ui.text import plain
from ui.widgets import NOISE_LABELS, STATUS_LABELS, dataset_label, dataset_words, format_duration, model_label


def local_times(runs: list[RunInfo], timezone: str | None) -> pd.DatetimeIndex:
    """When each run was saved, in `timezone` where pandas knows it (else UTC), without the zone."""
    created = pd.to_datetime([r.created for r in runs], utc=True)
    try:
        created = created.tz_convert(timezone or "UTC")
    except (KeyError, ValueError):  # a timezone name pandas does not know
        pass
    return created.tz_localize(None)


def runs_table(runs: list[RunInfo], timezone: str | None = None) -> pd.DataFrame:
    """One row per run in plain words: name, status, model, data, how alike its redrawings look (SSIM as a
    percentage), training time and date; the technical scores are on the chosen run's details."""
    return pd.DataFrame({
        "Name": [r.name for r in runs],
        "Status": [STATUS_LABELS.get(r.status, r.status) for r in runs],
        "Model": [model_label(r.model_kind) for r in runs],
        "Dataset": [dataset_label(r.dataset) for r in runs],
        "Looks alike": [looks_alike(r.metrics.get("ssim")) for r in runs],
        "Time": [format_duration(r.seconds) for r in runs],
        "Date": local_times(runs, timezone),
    })


def looks_alike(ssim: float | None) -> str:
    """SSIM as the percentage the pages call 'looks alike' (below 0 reads as 0 %); a dash when not scored."""
    return "—" if ssim is None or ssim != ssim else f"{max(0.0, ssim):.0%}"


def status_warning(run: RunInfo) -> str | None:
    """Why a run is not shown as a trained model (Markdown, its message as plain text), or None when it is."""
    if run.ok:
        return None
    if run.status == "no_better":
        return (f"This model redraws the test images no better than the average image would "
                f"({plain(run.history.message)}), so the pages that compare models leave it out.")
    return f"This run stopped before it finished ({plain(run.history.message or run.status)}), so its model is partial."


def settings_text(run: RunInfo) -> str:
    """The run's settings in one line, e.g. 'Convolutional · code size 32 · MNIST sample · 10 of 10 epochs · ...'."""
    t = run.config.train
    noise = "no noise" if t.noise == "none" else f"{NOISE_LABELS[t.noise].split(' (')[0].lower()} noise {t.noise_level:g}"
    return (f"{model_label(run.model_kind)} · code size {run.latent_dim} · {dataset_words(run.dataset)} · "
            f"{run.epochs_run} of {t.epochs} epochs · batch {t.batch_size} · learning rate {t.lr:g} · {noise} · "
            f"trained in {format_duration(run.seconds)}")


def import_zip(data: bytes, added_by: str = "") -> tuple[str, str, str | None]:
    """Add a run from an exported zip for `added_by` (aecore.owners), within the runs one owner may keep:
    ("success" | "warning" | "error", message, the new run's id or None); "warning" when its dataset is missing here."""
    limit = max_runs_per_owner()
    if added_by and limit and aecore.store.runs.runs_of(added_by) >= limit:
        return "error", (f"You keep {limit} models on this shared computer, as many as one person may. Delete the "
                         "ones you no longer need, then add this one."), None
    try:
        info = aecore.store.runs.import_run(data, added_by=added_by)
    except RunError as err:
        return "error", f"That file could not be added: {plain(err)}", None
    if collections.is_collection_id(info.dataset) and not collections.exists(info.dataset):
        return ("warning", f"Added {plain(info.name)}. It learned from a picture collection this server does not have "
                f"({info.dataset}): add the same pictures on the Your pictures page to see it on every page.", info.id)
    return "success", f"Added {plain(info.name)}.", info.id


def file_name(name: str) -> str:
    """A safe download file name for a run, e.g. 'mlp_ae-fashion-mnist-sample-z32.zip'."""
    return (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-").lower() or "run") + ".zip"
