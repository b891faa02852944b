"""The latent map's settings: how many images, which method and its own knobs, 3-D, images on the map.

`map_controls(run, split)` draws the widgets and returns a `MapChoice`; `describe_map` gives the axis
titles and the sentence on how a map was made. Each method's settings are shown only when it is chosen,
before anything is computed, and every one of them says what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from aecore.data import Split
from aecore.latent import MapSettings, Projection
from aecore.store.runs import RunInfo

DEFAULT_POINTS = 5000
METHOD_LABELS = {"pca": "PCA (fast)", "tsne": "t-SNE (clusters)", "umap": "UMAP (clusters, layout)"}
KEEP = dict(persist_state="session")  # settings survive a visit to another page
WANTED_POINTS = "latent_points_wanted"


@dataclass(frozen=True)
class MapChoice:
    n: int
    method: str
    dims: int
    settings: MapSettings
    thumbnails: bool


def map_controls(run: RunInfo, split: Split) -> MapChoice:
    """How many images, which projection and its settings, 2-D or 3-D, dots or images."""
    latent = run.latent_dim
    # the number asked for is kept apart from the widget, which a smaller test set caps, so a larger one gets it back
    wanted = st.session_state.setdefault(WANTED_POINTS, DEFAULT_POINTS)
    st.session_state.latent_n = min(wanted, len(split))
    count, method_col, extra = st.columns([2, 4, 2], vertical_alignment="bottom")
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
            required=True, **KEEP, help="PCA is quick and shows the directions along which the codes differ most; t-SNE "
                                        "rearranges the points so that look-alikes sit together; UMAP does too, "
                                        "and keeps more of how the groups lie relative to each other.")
    turn = "Spread the map over three axes; drag to turn it."
    three_d = extra.toggle("3-D", key="latent_3d", disabled=latent < 3, **KEEP,
                           help=turn if latent >= 3 else f"{turn} A code of {latent} number(s) has no third axis.")
    dims = 3 if three_d and latent >= 3 else 2
    thumbnails = extra.toggle("Images on the map", key="latent_thumbnails", disabled=dims == 3, **KEEP,
                              help="Draw a few hundred of the images themselves at their places, so you can see "
                                   "what sits where without clicking; the rest stay dots. Flat maps only.")
    return MapChoice(int(n), method or "pca", dims, method_settings(method or "pca"), thumbnails and dims == 2)


def method_settings(method: str) -> MapSettings:
    """The chosen method's own settings, as sliders; the others keep their defaults."""
    default = MapSettings()
    if method == "tsne":
        perplexity = st.columns([1, 2])[0].slider(
            "Neighbours to keep close", min_value=5, max_value=50, value=30, step=1, key="latent_perplexity", **KEEP,
            help="About how many neighbours each point tries to stay close to: low values show small local groups, "
                 "high values the larger layout. Details: t-SNE's perplexity.")
        return MapSettings(perplexity=float(perplexity))
    if method == "umap":
        left, right, _ = st.columns([1, 1, 1])
        neighbours = left.slider(
            "Neighbours", min_value=2, max_value=100, value=default.n_neighbors, step=1, key="latent_neighbours",
            **KEEP, help="How many nearby codes shape each point's place: few show fine local detail, many show the "
                         "overall layout of the groups.")
        min_dist = right.slider(
            "Minimum distance", min_value=0.0, max_value=1.0, value=default.min_dist, step=0.05,
            key="latent_min_dist", **KEEP, help="How tightly points may pack together: near 0 gives dense clumps "
                                                "that show clusters; near 1 spreads points out evenly. Details: "
                                                "UMAP's min_dist.")
        return MapSettings(n_neighbors=int(neighbours), min_dist=float(min_dist))
    return default


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
        axes = [f"Main direction {i + 1} — {s:.0%} of the variety" for i, s in enumerate(shares)]
        return axes, (f"PCA turns the {latent}-number codes to show the {len(shares)} directions along which they "
                      f"differ most; together these keep {shares.sum():.0%} of the differences between codes (each "
                      "axis title gives its own share).")
    name = {"tsne": "t-SNE", "umap": "UMAP"}[projection.method]
    kept = len(projection.kept)
    sample = f" (a random {kept:,} of the {n_codes:,}: {name} handles at most that many)" if kept < n_codes else ""
    return ([f"{name} {i + 1}" for i in range(projection.points.shape[1])],
            f"{name} rearranges the {latent}-number codes{sample} so that images with similar codes sit together; "
            "the axes themselves mean nothing, and distances between far-apart groups are not to scale.")
