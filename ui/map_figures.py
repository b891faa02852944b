"""What the latent map draws beyond its dots: images at their points, the mix of classes in a selection, PNG export.

`spread_points` picks a few hundred points that do not overlap, `add_thumbnails` draws each one's image at
its place as a Plotly layout image (a PNG data URI, so the figure carries its own pictures and the modebar's
PNG download includes them), `class_mix_figure` is the bar chart under a selection, and `MAP_CONFIG` turns
the modebar's camera into a PNG download of the figure as it is shown.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from ui.charts import CLASS_COLOURS, font
from ui.text import plain_html

THUMBNAILS = 300  # at most this many images on a map; more cover each other and slow the browser
GRID = 24  # the map is cut into GRID x GRID cells, at most one image per cell
# Plotly draws the PNG in the browser (its modebar's camera), so export needs nothing on the server: a
# server-side PNG (kaleido) would need a Chrome of its own on every machine that runs the app.
MAP_CONFIG = {"toImageButtonOptions": {"format": "png", "filename": "latent-map", "scale": 2}, "displaylogo": False}


def spread_points(points: np.ndarray, limit: int = THUMBNAILS, grid: int = GRID, seed: int = 0) -> np.ndarray:
    """Positions of at most `limit` points (n, 2), one per occupied grid cell, in a seeded order."""
    if len(points) == 0:
        return np.zeros(0, np.int64)
    lo, hi = points.min(axis=0), points.max(axis=0)
    cells = np.floor((points - lo) / np.maximum(hi - lo, 1e-12) * (grid - 1e-9)).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(points))
    _, first = np.unique(cells[order, 0] * grid + cells[order, 1], return_index=True)
    return np.sort(order[first][:limit])


def data_uri(image: np.ndarray) -> str:
    """An (H, W) or (H, W, 3) uint8 image as a PNG data URI."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def add_thumbnails(fig: go.Figure, points: np.ndarray, images: np.ndarray, grid: int = GRID) -> None:
    """Draw images (n, H, W) or (n, H, W, 3) uint8 centred on their points (n, 2), each about one grid cell wide."""
    if len(points) == 0:
        return
    span = np.maximum(points.max(axis=0) - points.min(axis=0), 1e-12)
    sx, sy = span / grid * 0.95
    fig.update_layout(images=[
        dict(source=data_uri(img), xref="x", yref="y", x=float(x), y=float(y), sizex=float(sx), sizey=float(sy),
             xanchor="center", yanchor="middle", sizing="contain", layer="above")
        for (x, y), img in zip(points, images)])


def class_mix_figure(counts: dict[str, int], classes: Sequence[str], height: int = 260) -> go.Figure:
    """How many of the selected images show each class, as horizontal bars in the map's class colours."""
    names = [c for c in classes if counts.get(c)]
    values = [counts[c] for c in names]
    total = max(sum(values), 1)
    colours = [CLASS_COLOURS[list(classes).index(c) % len(CLASS_COLOURS)] for c in names]
    fig = go.Figure(go.Bar(x=values, y=[plain_html(n) for n in names], orientation="h", marker_color=colours,
                           text=[f"{v} ({v / total:.0%})" for v in values], textposition="auto",
                           hovertemplate="%{y}: %{x}<extra></extra>"))
    fig.update_layout(height=max(height, 28 * len(names) + 60), margin=dict(l=10, r=10, t=10, b=10), font=font(),
                      showlegend=False)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="Selected images")
    return fig


def placement_figure(points: np.ndarray, labels: np.ndarray, classes: Sequence[str], point: np.ndarray,
                     nearest: np.ndarray, name: str = "Your picture", height: int = 340) -> go.Figure:
    """Test images as dots in their class colours (named on hover: ten legend entries crowd a third of a page),
    the nearest ones ringed, and the picture as a large star."""
    fig = go.Figure()
    for k, cls in enumerate(classes):
        at = labels == k
        if at.any():
            fig.add_trace(go.Scattergl(x=points[at, 0], y=points[at, 1], mode="markers", name=plain_html(cls),
                                       marker=dict(size=5, color=CLASS_COLOURS[k % len(CLASS_COLOURS)], opacity=0.55),
                                       hoverinfo="name", showlegend=False))
    fig.add_trace(go.Scatter(x=points[nearest, 0], y=points[nearest, 1], mode="markers", name="Closest test images",
                             marker=dict(size=13, color="rgba(0,0,0,0)", line=dict(color="#111111", width=2)),
                             hoverinfo="name"))
    fig.add_trace(go.Scatter(x=[float(point[0])], y=[float(point[1])], mode="markers", name=plain_html(name),
                             marker=dict(size=24, symbol="star", color="#FFD400", line=dict(color="#111111", width=2)),
                             hoverinfo="name"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), font=font(), dragmode="pan",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0))
    fig.update_xaxes(showticklabels=False, title_text="Main direction 1", zeroline=False)
    fig.update_yaxes(showticklabels=False, title_text="Main direction 2", zeroline=False)
    return fig
