"""Latent space: a map of the codes a model gives test images, and what lies between them.

The codes of up to N test images are projected to 2-D or 3-D (PCA, or t-SNE with its progress shown; a
code of two or three numbers is drawn as it is) and plotted coloured by class. The projection is background
work keyed by run and settings, so sessions asking for the same map share one. Clicking a point shows its
image, the model's reconstruction and its nearest neighbours in the full code space; clicking a second point
decodes a walk between the two codes. The clicks live in session state, so they survive
the reruns that the other controls cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import aecore.data
import aecore.infer
import aecore.latent
from aecore.data import Split
from aecore.latent import Codes, Projection
from aecore.runs import RunInfo
from ui.analysis import cached_codes, projection_work
from ui.charts import latent_figure, selected_image
from ui.images import enlarge, labelled_grid, png_bytes
from ui.loaders import finished_runs_or_stop, load_model_or_stop, load_test_or_stop, run_picker
from ui.shell import require_shell
from ui.waiting import result_of

require_shell()

DEFAULT_POINTS = 5000
METHOD_LABELS = {"pca": "PCA (fast, keeps distances)", "tsne": "t-SNE (slower, shows clusters)"}
KEEP = dict(persist_state="session")  # settings survive a visit to another page
WANTED_POINTS = "latent_points_wanted"
PICKS = "latent_picks"  # {"run": run id, "images": up to two test image numbers, the newest last}


@dataclass(frozen=True)
class MapSettings:
    n: int
    method: str
    dims: int
    perplexity: float


def map_controls(run: RunInfo, split: Split) -> MapSettings:
    """How many images, which projection, 2-D or 3-D; returns the settings the map is drawn with."""
    latent = run.latent_dim
    # the number asked for is kept apart from the widget, which a smaller test set caps, so a larger one gets it back
    wanted = st.session_state.setdefault(WANTED_POINTS, DEFAULT_POINTS)
    st.session_state.latent_n = min(wanted, len(split))
    count, method_col, extra = st.columns([2, 3, 2], vertical_alignment="bottom")
    n = count.number_input("Images to show", min_value=10, max_value=len(split), step=500, key="latent_n",
                           on_change=lambda: st.session_state.update({WANTED_POINTS: st.session_state.latent_n}),
                           help=f"How many test images to encode and plot; this test set holds {len(split):,}.")
    method = "pca"
    if latent <= 3:
        method_col.caption({1: "This model's code is a single number: the map lays it out across.",
                            2: "This model's code has 2 numbers: the map shows them as they are.",
                            3: "This model's code has 3 numbers: 3-D shows them as they are; the flat map is "
                               "made by PCA."}[latent])
    else:
        method = method_col.segmented_control(
            "Map made by", list(METHOD_LABELS), key="latent_method", default="pca", format_func=METHOD_LABELS.get,
            required=True, **KEEP, help="PCA shows the directions along which the codes differ most; t-SNE "
                                        "rearranges the points so that look-alikes sit together.")
    turn = "Spread the map over three axes; drag to turn it."
    three_d = extra.toggle("3-D", key="latent_3d", disabled=latent < 3, **KEEP,
                           help=turn if latent >= 3 else f"{turn} A code of {latent} number(s) has no third axis.")
    perplexity = 30.0
    if method == "tsne":
        perplexity = st.columns([1, 2])[0].slider(
            "Perplexity", min_value=5, max_value=50, value=30, step=1, key="latent_perplexity", **KEEP,
            help="About how many neighbours each point tries to stay close to: low values show small local groups, "
                 "high values the larger layout.")
    return MapSettings(int(n), method or "pca", 3 if three_d and latent >= 3 else 2, float(perplexity))


def describe_map(run: RunInfo, projection: Projection, n_codes: int) -> tuple[list[str], str]:
    """Axis titles and a sentence on how this map was made."""
    latent = run.latent_dim
    if projection.method == "strip":
        return (["Code", "(spread out so points do not overlap)"],
                "This model squeezes each image into a single number: it runs across, and the height means nothing.")
    if projection.method == "identity":
        axes = ["Code number 1", "Code number 2", "Code number 3"]
        return axes, f"This model's code has {latent} numbers, so the map shows them as they are, one per axis."
    if projection.method == "pca":
        shares = projection.explained_variance
        axes = [f"Direction {i + 1} ({s:.0%})" for i, s in enumerate(shares)]
        return axes, (f"PCA turns the {latent}-number codes to show the {len(shares)} directions along which they "
                      f"differ most; together these keep {shares.sum():.0%} of the differences between codes (each "
                      "axis title gives its own share).")
    kept = len(projection.kept)
    sample = f" (a random {kept:,} of the {n_codes:,}: t-SNE handles at most that many)" if kept < n_codes else ""
    return ([f"t-SNE {i + 1}" for i in range(projection.points.shape[1])],
            f"t-SNE rearranges the {latent}-number codes{sample} so that images with similar codes sit together; "
            "the axes themselves mean nothing, and distances between far-apart groups are not to scale.")


def remember_pick(run_id: str) -> None:
    """After a click or a selection on the map: the newest picked image, and the one before it."""
    points = st.session_state.latent_scatter.selection.points
    images = [i for i in map(selected_image, points) if i is not None]
    if not images:
        return
    state = st.session_state.get(PICKS)
    before = state["images"] if state and state["run"] == run_id else []
    if len(images) >= 2:
        picks = [images[0], images[-1]]
    else:
        picks = [i for i in before if i != images[0]][-1:] + images
    st.session_state[PICKS] = {"run": run_id, "images": picks}


def current_picks(run: RunInfo, codes: Codes) -> list[int]:
    """Positions in `codes` of the picked images (at most two, newest last) that this map holds."""
    state = st.session_state.get(PICKS)
    if not state or state["run"] != run.id:
        return []
    where = {int(image): pos for pos, image in enumerate(codes.indices)}
    return [where[i] for i in state["images"] if i in where]


def show_map(run: RunInfo, split: Split, codes: Codes, projection: Projection) -> None:
    axes, how = describe_map(run, projection, len(codes.z))
    if projection.warning:
        st.warning(projection.warning, icon=":material/warning:")
    kept = projection.kept
    fig = latent_figure(projection.points, codes.labels[kept], split.classes, codes.indices[kept], axes)
    st.plotly_chart(fig, key="latent_scatter", on_select=lambda: remember_pick(run.id),
                    selection_mode=("points", "box", "lasso"),
                    alt=f"Scatter plot of {len(kept):,} test images placed by their codes, coloured by class")
    st.caption("Each dot is one test image, placed by the code the model gives it and coloured by what it shows. "
               "Dots close together are images the model thinks alike; a class that forms its own island is one "
               f"the model tells apart well. {how}")
    if projection.points.shape[1] == 3:
        st.caption("Drag to turn the map and scroll to zoom. Dots can be clicked on the flat map only: switch 3-D "
                   "off to pick images.")


def show_pick(run: RunInfo, model, split: Split, codes: Codes, picks: list[int]) -> None:
    """The newest picked image, its reconstruction and its nearest neighbours; with two picks, the walk between."""
    pos = picks[-1]
    image_id = int(codes.indices[pos])
    name = split.classes[int(codes.labels[pos])]
    original = aecore.data.images_at(split, [image_id])[0]
    recon = aecore.infer.reconstruct_images(model, split, [image_id])[0]
    st.subheader(f"Image {image_id}: {name.lower()}")
    left, right, words = st.columns([1, 1, 2], gap="medium")
    left.image(enlarge(original, 8), caption="The test image", width="stretch")
    right.image(enlarge(recon, 8), caption="Redrawn from its code", width="stretch")
    with words:
        k = st.slider("Nearest neighbours", min_value=4, max_value=16, value=8, step=1, key="latent_k", **KEEP,
                      help="How many of the closest codes to show.")
        near = aecore.latent.nearest(codes.z, pos, k)
        thumbs = aecore.data.images_at(split, codes.indices[near])
        st.image([enlarge(t, 3) for t in thumbs], width=84,
                 caption=[split.classes[int(c)] for c in codes.labels[near]])
        same = int((codes.labels[near] == codes.labels[pos]).sum())
        st.caption(f"The {len(near)} images whose codes are closest to this one's in the model's full "
                   f"{codes.z.shape[1]}-number code (not just on the map); {same} of them are "
                   f"{name.lower()} too. Neighbours of another class are images the model mixes up with it.")
    if len(picks) < 2:
        st.caption("Click a second point to see the images the model draws on the way from this one to it.")
        return
    show_walk(model, split, codes, picks[0], picks[1])


def show_walk(model, split: Split, codes: Codes, start: int, end: int) -> None:
    names = [split.classes[int(codes.labels[p])].lower() for p in (start, end)]
    ids = [int(codes.indices[p]) for p in (start, end)]
    st.subheader(f"From image {ids[0]} ({names[0]}) to image {ids[1]} ({names[1]})")
    steps = st.columns([1, 2])[0].slider("Steps", min_value=3, max_value=16, value=9, step=1, key="latent_steps",
                                         **KEEP, help="How many images to decode along the way, both ends included.")
    decoded = aecore.latent.interpolate(model, codes.z[start], codes.z[end], steps)  # (steps, C, H, W) in [0, 1]
    strip = (decoded[:, 0] * 255).round().astype(np.uint8)
    first, last = aecore.data.images_at(split, ids)
    blank = np.full_like(first, 255)  # the originals sit under the walk's two ends
    ends = np.stack([first, *[blank] * (steps - 2), last])
    st.image(png_bytes(labelled_grid([strip, ends], ["Decoded", "Originals"], scale=3)), width="content")
    st.caption("The top row is decoded from codes on a straight line between the two images' codes: the first and "
               "last are the model's redrawings of them, the rest are images no one drew. Smooth changes mean the "
               "model has learned a continuous space of images; sudden jumps or blurs mean the codes in between "
               "stand for nothing it knows. The two originals sit below their ends.")


st.title("Latent space")
st.caption("A map of how a model sorts the images it has learned: every test image becomes a dot placed by its "
           "code. Click a dot to see the image; click another to walk from one to the other.")
runs = finished_runs_or_stop("There is no saved model to explore yet.")
run = run_picker("Model", "latent_run", runs, help="The saved run whose codes to map.")
split = load_test_or_stop(run.dataset)
settings = map_controls(run, split)
model = load_model_or_stop(run)
codes = cached_codes(run.id, run.dataset, settings.n)
work = projection_work(run.id, run.dataset, settings.n, settings.method, settings.dims, settings.perplexity)
projection = result_of(work, "Drawing the map", "The map could not be drawn with these settings: try another method "
                                                "or more images.")
if projection is None:
    st.stop()
show_map(run, split, codes, projection)
picks = current_picks(run, codes)
if picks:
    show_pick(run, model, split, codes, picks)
    st.button("Clear the picked points", key="latent_clear", icon=":material/clear:",
              on_click=lambda: st.session_state.pop(PICKS, None))
else:
    st.info("Click any dot on the map to see its image, the model's redrawing of it and its closest neighbours. "
            "Then click a second dot to walk from one image to the other.", icon=":material/touch_app:")
