"""Denoise: add noise to test images and see two models clean them up, scored by PSNR before and after.

A model trained on noisy copies of images (a denoising autoencoder) stands on the left, a plain one on the
right. The same noise seed gives both the same noisy images when they share a dataset, so the comparison
is fair; the scores are averaged over up to 500 test images.
"""

from __future__ import annotations

import streamlit as st

from aecore.config import NOISE_KINDS
from aecore.denoise import DenoiseDemo, denoise_demo
from aecore.store.runs import RunInfo
from ui.images import labelled_rows
from ui.loaders import cached_model, cached_test_split, finished_runs_or_stop, load_model_or_stop, load_test_or_stop, \
    run_picker
from ui.shell import require_shell
from ui.widgets import NOISE_LABELS

require_shell()

KINDS = tuple(k for k in NOISE_KINDS if k != "none")
DEFAULT_LEVEL = 0.3
MIN_LEVEL, MAX_LEVEL, LEVEL_STEP = 0.05, 0.9, 0.05
SHOWN = 5  # images per row: two models side by side leave each row half the page, so fewer and larger
TILE_SCALE = 3
SCORED = 500


def is_denoiser(run: RunInfo) -> bool:
    return run.config.train.noise != "none"


@st.cache_data(max_entries=64, show_spinner="Adding noise and cleaning it up…")
def denoised(run_id: str, dataset: str, kind: str, level: float, seed: int) -> DenoiseDemo:
    return denoise_demo(cached_model(run_id), cached_test_split(dataset), kind, level, n_show=SHOWN, n_score=SCORED,
                        seed=seed)


def noise_controls() -> tuple[str, float, int]:
    """Noise kind, level and seed."""
    st.session_state.setdefault("denoise_level", DEFAULT_LEVEL)
    st.session_state.setdefault("denoise_seed", 0)
    kind_col, level_col, button_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    kind = kind_col.selectbox("Noise", KINDS, key="denoise_kind", format_func=NOISE_LABELS.get,
                              help="The kind of damage done to the test images before the models see them.")
    level = level_col.slider("Noise level", MIN_LEVEL, MAX_LEVEL, step=LEVEL_STEP, key="denoise_level",
                             help="How strong the noise is: the spread of Gaussian grain, or the share of pixels hit.")
    button_col.button("Other images", key="denoise_shuffle", icon=":material/shuffle:", width="stretch",
                      on_click=lambda: st.session_state.update(denoise_seed=st.session_state.denoise_seed + 1),
                      help="Show other test images, with fresh noise.")
    return kind, float(level), int(st.session_state.denoise_seed)


def preselect_runs(runs: list[RunInfo]) -> None:
    """The first time: the newest denoising run (else the newest run) on the left, and on the right the newest
    other run, a plain one where there is one, so the two sides show two different models whenever two exist."""
    denoisers = [r for r in runs if is_denoiser(r)]
    if "denoise_run_a" not in st.session_state:
        st.session_state.denoise_run_a = (denoisers or runs)[0].id
        if denoisers:
            st.session_state.setdefault("denoise_kind", denoisers[0].config.train.noise)  # the noise it learned on
            level = round(denoisers[0].config.train.noise_level / LEVEL_STEP) * LEVEL_STEP
            st.session_state.setdefault("denoise_level", round(min(max(level, MIN_LEVEL), MAX_LEVEL), 2))
    if "denoise_run_b" not in st.session_state:
        others = [r for r in runs if r.id != st.session_state.denoise_run_a]
        plain_others = [r for r in others if not is_denoiser(r)]
        if others:
            st.session_state.denoise_run_b = (plain_others or others)[0].id


def show_same_model(runs: list[RunInfo]) -> None:
    if len(runs) == 1:
        st.info("Only one model is saved, so both sides show it. Train another to compare two.",
                icon=":material/info:")
    else:
        st.info("Both sides show the same model. Pick another one on either side to compare two.",
                icon=":material/info:")


def show_no_denoiser() -> None:
    st.info("None of your models was trained to remove noise yet, so both sides show plain models. To make one, "
            "open Train, pick the 'Denoising demo' preset (or choose a Denoising noise) and click Train: it learns "
            "from noisy copies of the images, always scored against the clean ones.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")


def show_denoising(run: RunInfo, kind: str, level: float, seed: int) -> None:
    """One model's clean, noisy and rebuilt images, and PSNR before and after."""
    t = run.config.train
    trained = (f"Trained to remove {NOISE_LABELS[t.noise].split(' (')[0].lower()} noise at level {t.noise_level:g}."
               if is_denoiser(run) else "Trained on clean images only.")
    st.caption(trained)
    load_model_or_stop(run)
    load_test_or_stop(run.dataset)
    demo = denoised(run.id, run.dataset, kind, level, seed)
    before, after = st.columns(2)
    before.metric("PSNR of the noisy images", f"{demo.mean_psnr_noisy:.1f} dB", border=True,
                  help="How close the noisy images are to the clean ones. Higher is closer; above 20 dB looks close.")
    after.metric("PSNR after the model", f"{demo.mean_psnr_reconstructed:.1f} dB", delta=f"{demo.gain:+.1f} dB",
                 border=True, help="How close the model's output is to the clean images. Higher is better; the "
                                   "change says how much the model cleaned up, or made worse.")
    rows = [demo.clean, demo.noisy, demo.reconstructed]
    st.image(labelled_rows(rows, ["Clean", "Noisy", "Rebuilt"], scale=TILE_SCALE, label_width=80), width="stretch",
             alt="Test images, their noisy copies, and the model's attempt to rebuild the clean images")
    st.caption(f"PSNR averaged over {demo.scored:,} test images; the rows show {len(demo.clean)} of them.")


st.title("Denoise")
st.caption("Damage test images with noise and see whether a model can rebuild the clean picture. A model trained "
           "on noisy copies usually can; a plain one mostly redraws the noise.")
runs = finished_runs_or_stop("Denoising needs trained models, and there are none yet.")
preselect_runs(runs)
kind, level, seed = noise_controls()
if not any(is_denoiser(r) for r in runs):
    show_no_denoiser()
left, right = st.columns(2, gap="large")
with left:
    left_run = run_picker("Left model", key="denoise_run_a", runs=runs,
                          help="Pick a model trained to remove noise here, to see what that training buys.")
    show_denoising(left_run, kind, level, seed)
with right:
    right_run = run_picker("Right model", key="denoise_run_b", runs=runs,
                           help="Pick a plain model here, trained on clean images only.")
    show_denoising(right_run, kind, level, seed)
if left_run.id == right_run.id:
    show_same_model(runs)
st.caption("PSNR (peak signal-to-noise ratio) compares each image with its clean original, in decibels: the higher, "
           "the closer. Models trained on the same dataset see exactly the same noisy images.")
