"""Compare: two or more saved models side by side on the same test images, their scores, and how they learned.

Every model is shown the same images: the test split of the first chosen run's dataset, or of another
dataset of the chosen runs that the user picks. Scores cover the whole split, as background work per run
and dataset that every session shares; the benchmark's reference values, where it has been run, say how good
the numbers are.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

import aecore.data
import aecore.scoring
from aecore.data import Split
from aecore.metrics import HIGHER_IS_BETTER
from aecore.models import count_parameters
from aecore.reference import load_reference, pca_at
from aecore.store.runs import RunInfo
from ui.shared_results import cached_reconstructions, scores_work
from ui.charts import class_bars_figure, loss_curves_figure
from ui.images import heat_colours, heat_scale, image_row
from ui.loaders import finished_runs_or_stop, load_model_or_stop, load_test_or_stop, runs_picker
from ui.runs import looks_alike
from ui.shell import require_shell
from ui.waiting import result_of
from ui.widgets import METRICS, dataset_label, dataset_words, format_duration, model_label
from ui.text import plain

require_shell()

ANY_CLASS = -1
KEEP = dict(persist_state="session")  # settings survive a visit to another page
ERROR_RANGE = 0.5  # differences this large or larger get the brightest colour
BEST = " ★"
CURVES = {"mse": "Reconstruction error (MSE)", "loss": "Loss each model minimised"}
# column: (per-image score, format, help)
SCORE_COLUMNS = {
    "MSE": ("mse", "{:.4f}", METRICS["mse"][2]),
    "MAE": ("mae", "{:.4f}", "Mean absolute difference per pixel. Lower is better."),
    "PSNR (dB)": ("psnr", "{:.2f}", METRICS["psnr"][2]),
    "SSIM": ("ssim", "{:.3f}", METRICS["ssim"][2]),
}


def compare_controls(runs: list[RunInfo]) -> list[RunInfo]:
    """The runs to compare, newest two preselected."""
    return runs_picker("Models to compare", "compare_runs", runs, default=2,
                       help="Pick two or more saved runs; every section below shows all of them.")


def dataset_controls(chosen: list[RunInfo]) -> str:
    """The dataset whose test images every model is shown; a note when the runs learned from different data."""
    names = list(dict.fromkeys(r.dataset for r in chosen))
    if len(names) == 1:
        return names[0]
    learned = "; ".join(f"{plain(r.name)}: {plain(dataset_label(r.dataset))}" for r in chosen)
    st.info(f"These models learned from different images ({learned}). To compare them fairly, every model is "
            "shown the same test images below, from the dataset you choose here: a model that never learned from "
            "that kind of image will score worse on it.", icon=":material/info:")
    if st.session_state.get("compare_dataset") not in names:
        st.session_state.compare_dataset = names[0]
    return st.selectbox("Test images from", names, key="compare_dataset", format_func=dataset_label, **KEEP,
                        help="Every model below is scored on this dataset's test images; the first chosen run's "
                             "dataset comes first.")


def image_controls(classes: tuple[str, ...]) -> tuple[int, int, int, bool]:
    """(class or ANY_CLASS, seed, how many, show differences) for the image grid."""
    which, seed, count, heat = st.columns([3, 2, 3, 2], vertical_alignment="bottom")
    label = which.selectbox("Images of", [ANY_CLASS, *range(len(classes))], key="compare_class", **KEEP,
                            format_func=lambda k: "every class" if k == ANY_CLASS else classes[k],
                            help="Random test images of any kind, or of one class only.")
    seed_value = seed.number_input("Seed", min_value=0, max_value=1_000_000, value=0, step=1, key="compare_seed",
                                   **KEEP, help="Another number draws other images; the same number the same ones.")
    n = count.slider("How many", min_value=4, max_value=16, value=8, step=1, key="compare_count", **KEEP,
                     help="How many test images to put through every model.")
    heatmaps = heat.toggle("Show differences", key="compare_heatmaps", **KEEP,
                           help="Under each model's images, a heat map of where they differ from the originals.")
    return int(label), int(seed_value), int(n), bool(heatmaps)


def show_grid(chosen: list[RunInfo], names: list[str], split: Split, dataset: str, indices: np.ndarray,
              heatmaps: bool) -> None:
    originals = aecore.data.images_at(split, indices)
    rows, labels = [originals], ["Original"]
    for run, name in zip(chosen, names):
        recon = cached_reconstructions(run.id, dataset, tuple(int(i) for i in indices))
        rows.append(recon)
        labels.append(name)
        if heatmaps:
            rows.append(heat_colours(aecore.metrics.error_maps(originals, recon), ERROR_RANGE))
            labels.append("difference")
    for row, label in zip(rows, labels):  # names beside the images as text: any script, accent or emoji shows
        name, images = st.columns([1, 4], vertical_alignment="center", gap="small")
        name.text(label)
        images.image(image_row(row, scale=3), width="content", alt=f"{label}: {len(row)} images")
    st.caption("Top row: test images none of the models saw while learning. Below: each model's attempt to redraw "
               "them from its code alone.")
    if heatmaps:
        scale, words = st.columns([1, 3], vertical_alignment="center")
        scale.image(heat_scale(), width="stretch", caption=f"no difference → {ERROR_RANGE:.0%} or more")
        words.caption("In the difference rows, dark means the model got that pixel right and bright yellow means "
                      f"it was off by {ERROR_RANGE:.0%} of the way from black to white or more: look where the bright "
                      "patches gather (edges, patterns, logos) to see what each model could not keep.")


def scores_table(chosen: list[RunInfo], names: list[str], means: dict[str, dict[str, float]],
                 parameters: dict[str, int], dataset: str) -> pd.DataFrame:
    """One row per run: its scores averaged over the test split, its size, PCA at its code size, its training."""
    return pd.DataFrame({
        "Run": names,
        "Model": [model_label(r.model_kind) for r in chosen],
        **{col: [means[r.id].get(key, math.nan) for r in chosen] for col, (key, _, _) in SCORE_COLUMNS.items()},
        "Parameters": [parameters[r.id] for r in chosen],
        "Code size": [r.latent_dim for r in chosen],
        **{f"PCA {label}": [(pca_at(dataset, r.latent_dim) or {}).get(key, math.nan) for r in chosen]
           for key, label in (("mse", "MSE"), ("ssim", "SSIM"))},
        "Epochs": [r.epochs_run for r in chosen],
        "Training time": [format_duration(r.seconds) for r in chosen],
    })


PLAIN_COLUMNS = {"Run": 250, "Model": 140, "Looks alike": 100, "Code size": 85, "Parameters": 100, "Epochs": 70,
                 "Training time": 115}  # pixels: each holds its longest text, and together they fit at 1400 px
SCORE_WIDTHS = {"Run": 250, **{col: 95 for col in SCORE_COLUMNS}, "PCA MSE": 95, "PCA SSIM": 95}


def show_table(table: pd.DataFrame, n_images: int) -> None:
    """How alike each model's redrawings look, with its size and training, then every score (the best of each
    starred and shaded) one click away."""
    plain_view = table[["Run", "Model"]].assign(**{"Looks alike": [looks_alike(v) for v in table["SSIM"]]})
    best = aecore.metrics.best_index(table["SSIM"], True)
    plain_view["Looks alike"] = [v + (BEST if i == best else "") for i, v in enumerate(plain_view["Looks alike"])]
    plain_view = plain_view.assign(**{"Code size": table["Code size"], "Parameters": [f"{p:,}" for p in table["Parameters"]],
                                      "Epochs": table["Epochs"], "Training time": table["Training time"]})
    helps = {"Looks alike": "How alike the redrawn test images look to the real ones (SSIM as a percentage).",
             "Parameters": "How many numbers the network learned: its size.",
             "Code size": "How many numbers each image is squeezed into.",
             "Epochs": "How many times the model saw every training image."}
    st.dataframe(plain_view, hide_index=True, key="compare_plain", column_config={
        col: st.column_config.Column(col, width=w, help=helps.get(col)) for col, w in PLAIN_COLUMNS.items()})
    with st.expander("Details: every score", icon=":material/table:"):
        scores, columns = score_details(table)
        st.dataframe(scores, hide_index=True, key="compare_table", column_config=columns)
        st.caption(f"Averages over all {n_images:,} test images. {BEST.strip()} marks the best model in each score "
                   "column: the lowest MSE and MAE (smaller errors), the highest PSNR and SSIM (closer likeness). PCA "
                   "with the same code size is the best any straight-line code of that many numbers does on the full "
                   "dataset: a model with lower MSE and higher SSIM has learned more than it.")


def score_details(table: pd.DataFrame) -> tuple:
    """The scores table (the best of each score starred, its cell shaded) and its column settings."""
    display = table[list(SCORE_WIDTHS)].copy()
    shade = pd.DataFrame("", index=display.index, columns=display.columns)
    for col, (key, fmt, _) in SCORE_COLUMNS.items():
        best = aecore.metrics.best_index(table[col], key in HIGHER_IS_BETTER)
        display[col] = [("—" if pd.isna(v) else fmt.format(v)) + (BEST if i == best else "")
                        for i, v in enumerate(table[col])]
        if best is not None:
            shade.loc[best, col] = "background-color: #DBE4FF"
    for col, fmt in (("PCA MSE", "{:.4f}"), ("PCA SSIM", "{:.3f}")):
        display[col] = ["—" if pd.isna(v) else fmt.format(v) for v in table[col]]
    helps = {col: text for col, (_, _, text) in SCORE_COLUMNS.items()}
    helps |= {col: "PCA with the same code size: the best straight-line code of that many numbers." for col in
              ("PCA MSE", "PCA SSIM")}
    columns = {col: st.column_config.TextColumn(col, width=w, help=helps.get(col)) for col, w in SCORE_WIDTHS.items()}
    return display.style.apply(lambda _: shade, axis=None), columns


def show_reference(dataset: str) -> None:
    """The benchmark's numbers for the classic set-ups on the full dataset, where it has been run."""
    try:
        ref = load_reference(dataset)
    except ValueError as err:
        st.caption(f"The reference values could not be read: {err}")
        return
    if ref is None:
        return
    full = dataset_label(ref["dataset"]).removesuffix(", full")
    with st.expander("How good is this?", icon=":material/straighten:"):
        st.markdown(
            f"Lower MSE and higher SSIM are better. These reference numbers come from the app's presets trained "
            f"on the full {full} training set ({ref['train_images']:,} images) and scored on its "
            f"{ref['test_images']:,} test images, so a model trained on the smaller sample, or for fewer epochs, "
            "will usually score a little worse.")
        dash = "—"

        def cell(value: float, fmt: str) -> str:
            return dash if math.isnan(value) else fmt.format(value)  # the benchmark writes NaN for a missing score

        rows = [{"Set-up": p["title"], "Model": model_label(p["model"]), "Code size": f"{p['latent_dim']:.0f}",
                 "Epochs": f"{p['epochs']:.0f}", "MSE": cell(p["mse"], "{:.4f}"), "SSIM": cell(p["ssim"], "{:.3f}"),
                 "PCA MSE": cell(p["pca_mse"], "{:.4f}"), "PCA SSIM": cell(p["pca_ssim"], "{:.3f}"),
                 "SSIM after 60 s": cell(p.get("at", {}).get(60.0, {}).get("ssim", math.nan), "{:.3f}")}
                for p in ref["presets"]]
        rows.append({"Set-up": "The average training image (learned nothing)", "Model": dash, "Code size": dash,
                     "Epochs": dash, "MSE": cell(ref["mean_image"]["mse"], "{:.4f}"),
                     "SSIM": cell(ref["mean_image"]["ssim"], "{:.3f}"), "PCA MSE": dash, "PCA SSIM": dash,
                     "SSIM after 60 s": dash})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="compare_reference", column_config={
            "PCA MSE": st.column_config.TextColumn(help="Principal component analysis with the same code size: "
                                                        "the best any linear code can do."),
            "SSIM after 60 s": st.column_config.TextColumn(help="The test SSIM after one minute of training (or at "
                                                                "the end, for a shorter run): quality per second."),
        })
        measured = ", ".join(str(v) for v in (ref.get("measured"), ref.get("device")) if v)
        st.caption("PCA keeps the same number of numbers per image with straight-line maths: a network that beats "
                   "it has learned something a linear code cannot. The average image is what a model scores if it "
                   "draws the same blur for every input." + (f" Measured {measured}." if measured else ""))


def show_class_chart(chosen: list[RunInfo], names: list[str], split: Split, scores: dict[str, dict]) -> None:
    labels = split.y.numpy()
    values = {name: aecore.scoring.class_means(scores[r.id]["ssim"], labels, split.classes)
              for r, name in zip(chosen, names)}
    st.plotly_chart(class_bars_figure(values), key="compare_classes",
                    alt="Bar chart of each model's average SSIM for every class of image")
    st.caption("Each group of bars is one kind of image, one bar per model: the taller the bar, the more alike "
               "that model's redrawings of those images look to the originals (SSIM, 1 is a perfect match). "
               "Detailed, patterned classes are usually the hardest.")


def show_loss_curves(chosen: list[RunInfo], names: list[str]) -> None:
    measure = st.segmented_control(
        "Curves of", list(CURVES), key="compare_curve", default="mse", required=True, format_func=CURVES.get, **KEEP,
        help="The reconstruction error is measured the same way for every model; the loss is what each model "
             "minimised, which differs between kinds of model.")
    curves = {name: r.history.epochs for r, name in zip(chosen, names)}
    st.plotly_chart(loss_curves_figure(curves, measure or "mse"), key="compare_losses",
                    alt="Line chart of each model's training and validation error after every epoch")
    st.caption("How each model's error fell while it learned: solid lines on images held back from training "
               "(validation), dashed on the training images. A solid line that flattens early means more epochs "
               "would not help; one that climbs while the dashed line falls means the model began memorising. "
               "The loss of a variational model adds a second term and sums over pixels, so it sits far above "
               "the others: compare losses between models of one kind, reconstruction errors between any.")


def display_names(chosen: list[RunInfo]) -> list[str]:
    """The runs' names, numbered where two share one, so every row, bar and line can be told apart."""
    seen: dict[str, int] = {}
    names = []
    for r in chosen:
        seen[r.name] = seen.get(r.name, 0) + 1
        names.append(r.name if seen[r.name] == 1 else f"{r.name} ({seen[r.name]})")
    return names


def parameter_count(run: RunInfo, model) -> int:
    n = run.env.get("parameters")
    return int(n) if isinstance(n, int) else count_parameters(model)


st.title("Compare")
st.caption("Put saved models side by side: the same test images through each, their scores on the whole test "
           "set, and how they learned.")
runs = finished_runs_or_stop("There are no saved models to compare yet.")
chosen = compare_controls(runs)
if not chosen:
    st.info("Pick a model above, or two or more to compare them.", icon=":material/info:")
    st.stop()
if len(chosen) == 1 and len(runs) > 1:
    st.info("Add a second model above to compare them.", icon=":material/info:")
elif len(chosen) == 1:
    st.info("Only one model is saved, so it is shown on its own. Train another to compare the two.",
            icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
dataset = dataset_controls(chosen)
split = load_test_or_stop(dataset)
misfits = [r for r in chosen if tuple(r.input_shape) != split.shape]
if misfits:
    st.warning(f"Left out: {', '.join(plain(r.name) for r in misfits)}. These models take images of another size than "
               f"{dataset_words(dataset)}; choose their own dataset above to see them.", icon=":material/warning:")
    chosen = [r for r in chosen if r not in misfits]
    if not chosen:
        st.stop()
names = display_names(chosen)
models = {r.id: load_model_or_stop(r) for r in chosen}

st.subheader("The same test images through every model")
label, seed, count, heatmaps = image_controls(split.classes)
picked = aecore.data.pick_images(split.y.numpy(), count, seed, None if label == ANY_CLASS else label)
show_grid(chosen, names, split, dataset, picked, heatmaps)

st.subheader("Scores on the whole test set")
work = {r.id: scores_work(r.id, dataset) for r in chosen}  # all queued at once, then waited on in turn
scores = {}
for r in chosen:
    scores[r.id] = result_of(work[r.id], "Scoring every test image", "The test images could not be scored.")
    if scores[r.id] is None:
        st.stop()
means = {r.id: aecore.scoring.summarise(scores[r.id]) for r in chosen}
show_table(scores_table(chosen, names, means, {r.id: parameter_count(r, models[r.id]) for r in chosen}, dataset), len(split))
show_reference(dataset)

st.subheader("Which kinds of image each model redraws best")
show_class_chart(chosen, names, split, scores)

st.subheader("How they learned")
show_loss_curves(chosen, names)
