"""Latent space: a map of the codes a model gives test images, and what lies between them.

The codes of up to N test images are projected to 2-D or 3-D (PCA, t-SNE or UMAP, each with its own
settings and its progress shown; a code of two or three numbers is drawn as it is) and plotted coloured
by class, as dots or with a few hundred of the images themselves. The projection is background work keyed
by run and settings, so sessions asking for the same map share one. Clicking a point shows its image,
the model's reconstruction and its nearest neighbours in the full code space; clicking a second point
decodes a walk between the two codes. A box or lasso selects a region: its images, their mix of classes,
and "isolate" to map just them again. The map downloads as CSV (with every code) and as PNG. Picks and
selections live in session state, so they survive the reruns that the other controls cause.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import aecore.data
import aecore.infer
import aecore.latent
from aecore.data import Split
from aecore.latent import Codes, Projection
from aecore.store.runs import RunInfo
from ui.shared_results import map_codes, projection_work
from ui.charts import latent_figure
from ui.images import enlarge, labelled_grid, png_bytes
from ui.loaders import finished_runs_or_stop, load_model_or_stop, load_test_or_stop, run_picker
from ui.map_controls import KEEP, MapChoice, describe_map, map_controls
from ui.map_figures import MAP_CONFIG, add_thumbnails, spread_points
from ui.map_selection import (
    PICKS, current_picks, current_selection, isolated_images, point_picker, remember_selection, show_isolated,
    show_selection,
)
from ui.presenter import image_width
from ui.shell import require_shell
from ui.text import shown
from ui.waiting import result_of

require_shell()


def class_filter(split: Split, labels: np.ndarray) -> np.ndarray:
    """The classes to draw, chosen by a person (all by default), as label numbers."""
    present = [split.classes[k] for k in np.unique(labels)]
    chosen = st.pills("Classes shown", present, selection_mode="multi", default=present, format_func=shown,
                      key="latent_classes_" + "_".join(map(str, np.unique(labels))), **KEEP,
                      help="Hide a class to see what lies under it; clicking a class in the map's legend hides it too, "
                           "and double-clicking one shows it alone.")
    return np.array([split.classes.index(c) for c in chosen], np.int64)


def show_map(run: RunInfo, split: Split, codes: Codes, projection: Projection, choice: MapChoice) -> None:
    axes, how = describe_map(run, projection, len(codes.z))
    if projection.warning:
        st.warning(projection.warning, icon=":material/warning:")
    kept = projection.kept
    wanted = class_filter(split, codes.labels[kept])
    shown = np.isin(codes.labels[kept], wanted)
    if not shown.any():
        st.info("Choose at least one class to show.", icon=":material/visibility_off:")
        return
    points, positions = projection.points[shown], kept[shown]
    fig = latent_figure(points, codes.labels[positions], split.classes, codes.indices[positions], axes)
    drawn = ""
    if choice.thumbnails and points.shape[1] == 2:
        spread = spread_points(points)
        add_thumbnails(fig, points[spread], aecore.data.images_at(split, codes.indices[positions[spread]]))
        drawn = f" {len(spread):,} of them are drawn as their images, spread over the map; the rest stay dots."
    st.plotly_chart(fig, key="latent_scatter", on_select=lambda: remember_selection(run.id),
                    selection_mode=("points", "box", "lasso"), config=MAP_CONFIG,
                    alt=f"Scatter plot of {len(points):,} test images placed by their codes, coloured by class")
    st.caption("Each dot is one test image, placed by the code the model gives it and coloured by what it shows. "
               "Dots close together are images the model thinks alike; a class that forms its own island is one "
               f"the model tells apart well. {how}{drawn}")
    if points.shape[1] == 3:
        st.caption("Drag to turn the map and scroll to zoom. Points of a 3-D map cannot be clicked: pick one from "
                   "the list below, or switch 3-D off to click and select.")
        point_picker(run, split, codes, positions)
    else:
        st.caption("Click a dot to pick its image. To select a region, choose Box Select or Lasso Select above the "
                   "map, then drag round the dots. Otherwise a drag moves the map around, the + and − buttons above "
                   "it zoom, and a double-click shows the whole map again.")
    row = st.container(horizontal=True, vertical_alignment="center")  # the button as wide as its words need
    row.download_button("Download the map (CSV)", key="latent_csv", icon=":material/download:",
                        data=lambda: aecore.latent.map_csv(codes, projection, split.classes),
                        file_name=f"latent-map-{projection.method}.csv", mime="text/csv", on_click="ignore")
    row.caption("The CSV has a row per point: the test image's index, its class, its place on the map and its "
                "full code. The camera above the map saves the picture as a PNG, exactly as shown.")


def show_pick(run: RunInfo, model, split: Split, codes: Codes, picks: list[int]) -> None:
    """The newest picked image, its reconstruction and its nearest neighbours; with two picks, the walk between."""
    pos = picks[-1]
    image_id = int(codes.indices[pos])
    name = shown(split.classes[int(codes.labels[pos])].lower())
    original = aecore.data.images_at(split, [image_id])[0]
    recon = aecore.infer.reconstruct_images(model, split, [image_id])[0]
    st.subheader(f"Image {image_id}: {name}")
    left, right, words = st.columns([1, 1, 2], gap="medium")
    left.image(enlarge(original, 8), caption="The test image", width="stretch")
    right.image(enlarge(recon, 8), caption="Redrawn from its code", width="stretch")
    with words:
        k = st.slider("Nearest neighbours", min_value=4, max_value=16, value=8, step=1, key="latent_k", **KEEP,
                      help="How many of the closest codes to show.")
        near = aecore.latent.nearest(codes.z, pos, k)
        thumbs = aecore.data.images_at(split, codes.indices[near])
        st.image([enlarge(t, 3) for t in thumbs], width=image_width(84),
                 caption=[shown(split.classes[int(c)]) for c in codes.labels[near]])
        same = int((codes.labels[near] == codes.labels[pos]).sum())
        st.caption(f"The {len(near)} images whose codes are closest to this one's in the model's full "
                   f"{codes.z.shape[1]}-number code (not just on the map); {same} of them are "
                   f"{name} too. Neighbours of another class are images the model mixes up with it.")
    if len(picks) < 2:
        st.caption("Click a second point to see the images the model draws on the way from this one to it.")
        return
    show_walk(model, split, codes, picks[0], picks[1])


def show_walk(model, split: Split, codes: Codes, start: int, end: int) -> None:
    names = [shown(split.classes[int(codes.labels[p])].lower()) for p in (start, end)]
    ids = [int(codes.indices[p]) for p in (start, end)]
    st.subheader(f"From image {ids[0]} ({names[0]}) to image {ids[1]} ({names[1]})")
    steps = st.columns([1, 2])[0].slider("Steps", min_value=3, max_value=16, value=9, step=1, key="latent_steps",
                                         **KEEP, help="How many images to decode along the way, both ends included.")
    decoded = aecore.latent.interpolate(model, codes.z[start], codes.z[end], steps)  # (steps, C, H, W) in [0, 1]
    strip = aecore.infer.image_uint8(decoded)  # grey (steps, H, W) or colour (steps, H, W, 3)
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
           "code. Click a dot to see the image; click another to walk from one to the other; draw round a group "
           "to see all of its images.")
runs = finished_runs_or_stop("There is no saved model to explore yet.")
run = run_picker("Model", "latent_run", runs, help="The saved run whose codes to map.")
split = load_test_or_stop(run.dataset)
choice = map_controls(run, split)
model = load_model_or_stop(run)
isolated = isolated_images(run, choice.n)
codes = map_codes(run.id, run.dataset, choice.n, isolated)
work = projection_work(run.id, run.dataset, choice.n, choice.method, choice.dims, choice.settings, isolated)
projection = result_of(work, "Drawing the map", "The map could not be drawn with these settings: try another method "
                                                "or more images.")
if projection is None:
    st.stop()
if isolated is not None:
    show_isolated(len(codes.z))
show_map(run, split, codes, projection, choice)
selection = current_selection(run, codes)
if selection:
    show_selection(run, split, codes, selection, choice.n, isolated is not None)
picks = current_picks(run, codes)
if picks:
    show_pick(run, model, split, codes, picks)
    st.button("Clear the picked points", key="latent_clear", icon=":material/clear:",
              on_click=lambda: st.session_state.pop(PICKS, None))
elif not selection:
    st.info("Click any dot on the map to see its image, the model's redrawing of it and its closest neighbours. "
            "Then click a second dot to walk from one image to the other, or choose Box Select above the map and "
            "drag round a group of dots to see them all.", icon=":material/touch_app:")
