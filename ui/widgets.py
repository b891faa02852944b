"""Words and small renderers every page shares: plain names for models, data and noise, metrics, durations.

`show_metrics(metrics)` draws a run's test scores, one plain headline first and the rest in details; the label tables turn
aecore's registry keys into the names people see.
"""

from __future__ import annotations

import streamlit as st

from aecore.config import DATASET_NAMES
from aecore.names import KIND_NAMES
from aecore.store import collections
from ui.text import plain

MODEL_LABELS = KIND_NAMES  # the same plain names that runs are named with
MODEL_BLURBS = {
    "mlp_ae": "Every pixel connects to every unit: the classic tutorial autoencoder.",
    "deep_mlp_ae": "More layers and a bottleneck that can take any sign: codes spread out well in plots.",
    "conv_ae": "Looks at small patches like an eye does: sharper edges for the same code size.",
    "vae": "Learns a smooth map of codes you can sample new images from.",
    "conv_vae": "A variational autoencoder built from convolutions: smooth codes and sharper images.",
}
DATASET_LABELS = {
    "fashion-mnist-sample": "FashionMNIST sample",
    "mnist-sample": "MNIST sample",
    "digits": "Digits (8×8, enlarged)",
    "fashion-mnist": "FashionMNIST, full",
    "mnist": "MNIST, full",
    "cifar-10": "CIFAR-10 colour photos, full",
}
NOISE_LABELS = {
    "none": "None",
    "gaussian": "Gaussian (fine grain)",
    "salt_pepper": "Salt and pepper (white and black dots)",
    "mask": "Missing pixels (set to black)",
}
STATUS_LABELS = {
    "done": "done",
    "early_stopped": "done (stopped early)",
    "no_better": "⚠ no better than the average image",
    "stopped": "⚠ stopped (partial)",
    "diverged": "⚠ diverged",
}
# key: (label, format, help); the scores shown for a run, where it has them
METRICS = {
    "mse": ("MSE", "{:.4f}",
            "Mean squared error per pixel between test images and their reconstructions. Lower is better."),
    "ssim": ("SSIM", "{:.3f}",
             "Structural similarity: how alike the shapes and textures look, from 0 to 1. Higher is better."),
    "psnr": ("PSNR (dB)", "{:.1f}",
             "Peak signal-to-noise ratio in decibels. Higher is better; above 20 dB looks close."),
}


def model_label(kind: str) -> str:
    return MODEL_LABELS.get(kind, kind)


def dataset_label(name: str) -> str:
    """A dataset's name as people read it; a picture collection's own name (read fresh, so a rename shows)."""
    if collections.is_collection_id(name):
        try:
            return f"{collections.read_info(name).name} (your pictures)"
        except collections.CollectionError:
            return "A deleted picture collection"
    return DATASET_LABELS.get(name, name)


def dataset_words(name: str) -> str:
    """`dataset_label` for Markdown: a collection's name is a person's own text, so it goes in a code span."""
    return plain(dataset_label(name)) if collections.is_collection_id(name) else dataset_label(name)


def picture_side(name: str) -> int:
    """How many pixels wide a dataset's pictures are: a collection's own size, else the built-in sets' 28 (32 for
    CIFAR-10); 0 for a collection that cannot be read."""
    if collections.is_collection_id(name):
        try:
            return collections.read_info(name).size
        except collections.CollectionError:
            return 0
    return 32 if name == "cifar-10" else 28


def dataset_choices() -> tuple[str, ...]:
    """Every dataset a model can be trained on here: the built-in ones, then the picture collections kept."""
    return (*DATASET_NAMES, *(c.id for c in collections.list_all()[0]))


def format_duration(seconds: float | None) -> str:
    """'45 s', '3 min 05 s' or '1 h 02 min'; an em dash when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def show_metrics(metrics: dict[str, float], pca: dict[str, float] | None = None, code_size: int = 0) -> None:
    """One plain headline (how alike the redrawn test images look), the technical scores one click away; with `pca`,
    PCA's at the same code size as a neutral reference in a sentence, never as a red or green arrow."""
    shown = [k for k in METRICS if k in metrics]
    if not shown:
        st.caption("No test scores were recorded for this run.")
        return
    if "ssim" in metrics:
        alike = max(0.0, metrics["ssim"])  # below 0, SSIM means nothing alike: read as 0 %, the details keep the value
        headline, words = st.columns([1, 3], vertical_alignment="center")
        headline.metric("Looks alike", f"{alike:.0%}", border=True,
                        help="How alike the model's redrawn test images look to the real ones, shape and texture "
                             "(SSIM shown as a percentage). 100 % would be a perfect copy.")
        reference = ""
        if pca is not None and "ssim" in pca:
            reference = (f" For comparison, the best a straight-line method (PCA) does with the same {code_size} "
                         f"numbers per image is {max(0.0, pca['ssim']):.0%} alike.")
        words.markdown(f"The model's redrawings of test images it never trained on look {alike:.0%} alike "
                       f"to the real ones.{reference}")
    with st.expander("Details: every score", expanded="ssim" not in metrics):
        for col, key in zip(st.columns(len(shown)), shown):
            label, fmt, help_text = METRICS[key]
            col.metric(label, fmt.format(metrics[key]), help=help_text, border=True)
        if pca is not None:
            st.caption(f"PCA with the same code size ({code_size} numbers per image): MSE {pca['mse']:.4f}, "
                       f"SSIM {pca['ssim']:.3f}. PCA is the best straight-line code; a model above it on SSIM and "
                       "below it on MSE has learned something PCA cannot. PCA's figures are from the full dataset.")
