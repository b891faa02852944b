"""Cached scores, reconstructions, codes and maps for the Compare and Latent space pages.

Everything is keyed by run id and dataset name (a saved run never changes), so a second look at the
same run, or another session looking at it, costs nothing. `run_with_progress(task, label)` runs a slow
task in a worker thread while a progress bar here shows what it reports: the script stays responsive,
and a map that was already drawn comes back at once without a bar flashing.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import numpy as np
import streamlit as st

import aecore.analysis
import aecore.latent
from aecore.latent import Codes, Projection
from aecore.metrics import evaluate_per_image
from ui.loaders import cached_model, cached_test_split

T = TypeVar("T")
Progress = Callable[[float, str], None]
QUICK_SECONDS = 0.3  # a task done this fast never shows a progress bar


@st.cache_data(max_entries=64, show_spinner="Scoring every test image…")
def cached_scores(run_id: str, dataset: str) -> dict[str, np.ndarray]:
    """Every metric for every test image of the dataset through the run's model, `(N,)` each."""
    return evaluate_per_image(cached_model(run_id), cached_test_split(dataset))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_reconstructions(run_id: str, dataset: str, indices: tuple[int, ...]) -> np.ndarray:
    """The run's reconstructions of the test images at `indices`, (n, H, W) uint8."""
    return aecore.analysis.reconstruct_images(cached_model(run_id), cached_test_split(dataset), np.array(indices))


@st.cache_data(max_entries=16, show_spinner="Encoding the test images…")
def cached_codes(run_id: str, dataset: str, n: int) -> Codes:
    """The codes of n seeded test images of the dataset through the run's encoder."""
    return aecore.latent.encode_split(cached_model(run_id), cached_test_split(dataset), n=n)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_projection(run_id: str, dataset: str, n: int, method: str, dims: int, perplexity: float,
                      _on_progress: Progress | None = None) -> Projection:
    """The codes of `cached_codes` as map points; a one-number code is laid out as a strip."""
    codes = cached_codes(run_id, dataset, n)
    if codes.z.shape[1] == 1:
        warning = aecore.latent.standardise(codes.z)[2]  # DegenerateCodes when every code is the same
        return Projection(aecore.analysis.strip_points(codes.z), np.arange(len(codes.z)), "strip", warning=warning)
    return aecore.latent.project(codes.z, method, dims, perplexity=perplexity, on_progress=_on_progress)


def run_with_progress(task: Callable[[Progress], T], label: str) -> T:
    """task(on_progress) in a worker thread, with a progress bar of what it reports and the time it has taken.

    A rerun (the user changing a setting) interrupts only the waiting here; the task runs on, so a
    cached task's result is ready for whoever asks next.
    """
    updates: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()
    done: Future[T] = Future()

    def work() -> None:
        try:
            done.set_result(task(lambda fraction, message: updates.put((fraction, message))))
        except BaseException as err:  # handed to the waiting script run, which shows it
            done.set_exception(err)

    threading.Thread(target=work, name="ui-task", daemon=True).start()
    try:
        return done.result(timeout=QUICK_SECONDS)
    except TimeoutError:
        pass
    start, fraction, message = time.monotonic(), 0.0, ""
    bar = st.progress(0.0, text=f"{label}…")
    try:
        while True:
            try:
                return done.result(timeout=0.25)
            except TimeoutError:
                pass
            while not updates.empty():
                fraction, message = updates.get()
            seconds = f"{time.monotonic() - start:.0f} s"
            text = f"{label}: {message} · {seconds}" if message else f"{label}… {seconds}"
            bar.progress(min(max(fraction, 0.0), 1.0), text=text)
    finally:
        bar.empty()
