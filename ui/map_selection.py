"""What a person picks on the latent map: clicked images, a box or lasso selection, an isolated selection.

A click picks one image (the page shows it and walks from the one picked before); a box or lasso selects
a region, shown as a grid of its images with the mix of classes in it, and "isolate" maps just those
images again. Plotly cannot select in 3-D, so a 3-D map has `point_picker` instead. Everything is kept in
session state by test image number and run, so it survives reruns and never leaks into another run's map.
`selected_image(point)` reads the image number out of a point of Streamlit's selection.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import streamlit as st

import aecore.data
from aecore.data import Split
from aecore.latent import Codes
from aecore.store.runs import RunInfo
from ui.images import tile_rows
from ui.map_figures import class_mix_figure
from ui.text import shown

PICKS = "latent_picks"  # {"run": run id, "images": up to two test image numbers, the newest last}
SELECTED = "latent_selected"  # {"run": run id, "images": sorted test image numbers inside the last box or lasso}
ISOLATED = "latent_isolated"  # {"run": run id, "n": images on the map, "images": the selection mapped on its own}
GRID_IMAGES = 64  # a selection shows at most this many of its images
PER_ROW = 16
MIN_ISOLATE = 10  # fewer points make no map worth redrawing


def remember_selection(run_id: str) -> None:
    """After a click, a box or a lasso on the map: a region of two or more images becomes the selection, else a pick.
    """
    selection = st.session_state.latent_scatter.selection
    images = sorted({i for i in map(selected_image, selection.points) if i is not None})
    if (selection.get("box") or selection.get("lasso")) and len(images) >= 2:
        st.session_state[SELECTED] = {"run": run_id, "images": images}
    elif images:
        pick(run_id, images[-1])


def pick(run_id: str, image: int) -> None:
    """Make `image` the newest pick, keeping the one before it as the start of a walk."""
    state = st.session_state.get(PICKS)
    before = state["images"] if state and state["run"] == run_id else []
    st.session_state[PICKS] = {"run": run_id, "images": [i for i in before if i != image][-1:] + [int(image)]}


def _positions(state_key: str, run: RunInfo, codes: Codes) -> list[int]:
    state = st.session_state.get(state_key)
    if not state or state["run"] != run.id:
        return []
    where = {int(image): pos for pos, image in enumerate(codes.indices)}
    return [where[i] for i in state["images"] if i in where]


def current_picks(run: RunInfo, codes: Codes) -> list[int]:
    """Positions in `codes` of the picked images (at most two, newest last) that this map holds."""
    return _positions(PICKS, run, codes)


def current_selection(run: RunInfo, codes: Codes) -> list[int]:
    """Positions in `codes` of the selected images that this map holds."""
    return _positions(SELECTED, run, codes)


def isolated_images(run: RunInfo, n: int) -> tuple[int, ...] | None:
    """The test image numbers of the isolated selection of this run's map of n images, if one is isolated."""
    state = st.session_state.get(ISOLATED)
    if not state or state["run"] != run.id or state["n"] != n:
        return None
    return tuple(state["images"])


def isolate(run_id: str, n: int, images: list[int]) -> None:
    st.session_state[ISOLATED] = {"run": run_id, "n": n, "images": sorted(images)}
    st.session_state.pop(SELECTED, None)


def show_isolated(count: int) -> None:
    """The note over a map of a selection alone, with the way back."""
    st.info(f"This map shows only the {count:,} selected images, laid out again on their own.",
            icon=":material/filter_center_focus:")
    st.button("Back to the whole map", key="latent_unisolate", icon=":material/zoom_out_map:",
              on_click=lambda: st.session_state.pop(ISOLATED, None))


def show_selection(run: RunInfo, split: Split, codes: Codes, positions: list[int], n: int, isolated: bool) -> None:
    """The selected images as a grid, the mix of classes among them, and the buttons to isolate or clear them."""
    names = [split.classes[int(c)] for c in codes.labels[positions]]
    counts = Counter(names)
    top = ", ".join(f"{v / len(names):.0%} {shown(k.lower())}" for k, v in counts.most_common(3))
    st.subheader(f"{len(positions):,} selected images")
    st.caption(f"Mostly {top}." if len(counts) > 1 else f"All of them {shown(names[0].lower())}.")
    grid_col, mix_col = st.columns([3, 2], gap="medium")
    first = np.asarray(positions[:GRID_IMAGES])
    images = aecore.data.images_at(split, codes.indices[first])
    rows = [images[i:i + PER_ROW] for i in range(0, len(images), PER_ROW)]
    grid_col.image(tile_rows(rows, scale=2), width="content")
    more = f"The first {GRID_IMAGES} of them, in test-set order." if len(positions) > GRID_IMAGES else ""
    grid_col.caption(f"The images inside the region drawn on the map. {more}")
    mix_col.plotly_chart(class_mix_figure(dict(counts), split.classes), key="latent_mix",
                         config={"displayModeBar": False})
    left, right = st.columns([1, 1])
    ids = [int(i) for i in codes.indices[positions]]
    left.button("Isolate: map these on their own", key="latent_isolate", icon=":material/filter_center_focus:",
                disabled=isolated or len(ids) < MIN_ISOLATE, on_click=isolate, args=(run.id, n, ids),
                help="Lay out only the selected images again, with the same method and settings, so the differences "
                     f"inside this region get the whole map. Needs at least {MIN_ISOLATE} images.")
    right.button("Clear the selection", key="latent_clear_selection", icon=":material/deselect:",
                 on_click=lambda: st.session_state.pop(SELECTED, None))


def point_picker(run: RunInfo, split: Split, codes: Codes, kept: np.ndarray) -> None:
    """Pick an image of a 3-D map from a list: Plotly cannot click or select points in 3-D."""
    ids = [int(i) for i in codes.indices[kept]]
    label = {int(codes.indices[p]): split.classes[int(codes.labels[p])] for p in kept}
    st.selectbox("Pick an image", ids, index=None, key="latent_point_picker", placeholder="Type or choose its number",
                 format_func=lambda i: f"Image {i} ({label[i].lower()})",
                 on_change=lambda: _picked_from_list(run.id),
                 help="Points of a 3-D map cannot be clicked: choose an image here to see it, its neighbours and, "
                      "after a second one, the walk between them. Hover a point to read its number.")


def _picked_from_list(run_id: str) -> None:
    image = st.session_state.get("latent_point_picker")
    if image is not None:
        pick(run_id, int(image))


def selected_image(point: dict) -> int | None:
    """The image number a point of `latent_figure` carries, from a Streamlit selection, or None if it has none.

    SVG traces send the point's custom data as a list, WebGL traces as {"0": value}.
    """
    data = point.get("customdata")
    if isinstance(data, dict):
        data = data.get("0")
    elif isinstance(data, (list, tuple)):
        data = data[0] if data else None
    try:
        return int(data) if data is not None else None
    except (TypeError, ValueError):
        return None
