"""Plotly figure builders, all in one look (`style`) with readable log ticks (`log_ticks`).

- `loss_figure`: the Train page's live chart, per-batch training loss with per-epoch training and validation loss.
- `autoencoder_figure`: the Home page's picture, image -> code -> image.
- `class_bars_figure`, `loss_curves_figure`: Compare's per-class scores and the runs' curves side by side.
- `latent_figure`: the Latent space map, points coloured by class (`CLASS_COLOURS`).
- `class_errors_figure`, `roc_figure`, `error_histogram_figure`: how reconstruction error tells classes apart,
  for the Anomalies page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from ui.presenter import TEXT_SCALE, presenting
from ui.text import plain_html

PRIMARY = "#3B5BDB"
ACCENT = "#E8590C"
MUTED = "#A5B4FC"
ARROW_PX = 36  # arrow length in pixels
FONT = dict(family="Source Sans Pro, sans-serif", size=14)


def font() -> dict:
    """The charts' font: larger in presenter mode, as the page's text is."""
    return dict(FONT, size=round(FONT["size"] * TEXT_SCALE)) if presenting() else FONT
LEGEND_ABOVE = dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0)


def style(fig: go.Figure, height: int, top: int = 30, legend: dict | None = None, **layout) -> go.Figure:
    """The look every chart here shares: its height, slim margins (`top` for a legend above), the app's font, and
    the legend in one row above the plot unless `legend` says otherwise."""
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=top, b=10), font=font(),
                      legend=LEGEND_ABOVE if legend is None else legend, **layout)
    return fig


def loss_figure(curve: Sequence[tuple[int, float]], epochs: Sequence[dict[str, float]], total_steps: int,
                total_epochs: int, height: int = 330) -> go.Figure:
    """Batch loss (thin line) and per-epoch train/validation loss (markers) against epochs, log scale."""
    steps_per_epoch = total_steps / total_epochs if total_steps and total_epochs else 1.0
    fig = go.Figure()
    if curve:
        steps, losses = zip(*curve)
        fig.add_trace(go.Scatter(x=[s / steps_per_epoch for s in steps], y=losses, name="Training loss, per batch",
                                 mode="lines", line=dict(color=MUTED, width=1.5),
                                 hovertemplate="epoch %{x:.2f}<br>loss %{y:.4f}<extra></extra>"))
    for key, name, colour in (("train_loss", "Training loss, per epoch", PRIMARY),
                              ("val_loss", "Validation loss, per epoch", ACCENT)):
        points = [(row["epoch"], row[key]) for row in epochs if key in row]
        if points:
            x, y = zip(*points)
            fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers", line=dict(color=colour, width=2.5),
                                     marker=dict(size=8), hovertemplate="epoch %{x:.0f}<br>loss %{y:.4f}<extra></extra>"))
    style(fig, height, showlegend=True, hovermode="closest", uirevision="loss")  # uirevision: zoom kept as points arrive
    fig.update_xaxes(title_text="Epoch", range=[0, max(total_epochs, 1) + 0.05], dtick=_epoch_tick(total_epochs))
    fig.update_yaxes(title_text="Loss (log scale)", type="log")
    losses = [loss for _, loss in curve] + [row[k] for row in epochs for k in ("train_loss", "val_loss") if k in row]
    ticks = log_ticks(losses)
    if ticks:
        fig.update_yaxes(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    return fig


def log_ticks(values: Sequence[float] | np.ndarray, margin: float = 1.0) -> list[float]:
    """Readable ticks for a log axis over the positive values, widened `margin` times either way: 1, 2 and 5 times
    powers of ten, more digits when those give fewer than three; none when there is no positive value."""
    positive = [float(v) for v in np.asarray(values, np.float64).ravel() if v > 0 and math.isfinite(v)]
    if not positive:
        return []
    lo, hi = min(positive) / margin, max(positive) * margin
    powers = range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 1)
    for mantissas in ((1, 2, 5), (1, 2, 3, 5), range(1, 10)):
        ticks = [float(f"{m}e{p}") for p in powers for m in mantissas if lo <= float(f"{m}e{p}") <= hi]
        if len(ticks) >= 3:
            return ticks
    return ticks


def _epoch_tick(total_epochs: int) -> int:
    for tick in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        if total_epochs / tick <= 12:
            return tick
    return 1000


def autoencoder_figure(image: np.ndarray, code: np.ndarray, reconstruction: np.ndarray) -> go.Figure:
    """Input image, arrow 'encoder', bar chart of the code, arrow 'decoder', output image, at a fixed size."""
    H, W = image.shape
    width, height, top, tile, gap = 600, 270, 50, 150, 72  # pixels: the geometry stays exact at any window size
    plot_h = height - top
    x_img1, x_bars = (0, tile / width), ((tile + gap) / width, 1 - (tile + gap) / width)
    x_img2 = (1 - tile / width, 1)
    y_img = ((plot_h - tile) / 2 / plot_h, (plot_h + tile) / 2 / plot_h)
    fig = go.Figure()
    for axis, img in (("", image), ("3", reconstruction)):
        fig.add_trace(go.Image(z=np.repeat(img[..., None], 3, axis=2), hoverinfo="skip",
                               xaxis=f"x{axis}", yaxis=f"y{axis}"))
    fig.add_trace(go.Bar(x=list(range(len(code))), y=code, marker_color=[PRIMARY if v >= 0 else ACCENT for v in code],
                         hovertemplate="number %{customdata}: %{y:.2f}<extra></extra>",
                         customdata=list(range(1, len(code) + 1)), xaxis="x2", yaxis="y2"))
    hidden = dict(visible=False, showgrid=False, zeroline=False)
    fig.update_layout(
        width=width, height=height, margin=dict(l=0, r=0, t=top, b=0), showlegend=False, font=font(),
        plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(domain=x_img1, **hidden), yaxis=dict(domain=y_img, **hidden),
        xaxis2=dict(domain=x_bars, range=[-0.7, len(code) - 0.3], **hidden),
        yaxis2=dict(domain=[0, 1], showticklabels=False, showgrid=False, zeroline=True, zerolinecolor="#868E96"),
        xaxis3=dict(domain=x_img2, **hidden), yaxis3=dict(domain=y_img, **hidden),
    )
    titles = (("Input image", f"{H * W} numbers", x_img1), ("Code", f"{len(code)} numbers", x_bars),
              ("Rebuilt image", f"{H * W} numbers", x_img2))
    for title, subtitle, (a, b) in titles:
        fig.add_annotation(x=(a + b) / 2, y=1, xanchor="center", yanchor="bottom", yshift=6, xref="paper", yref="paper",
                           showarrow=False,
                           text=f"<b>{title}</b><br>{subtitle}", font=dict(size=13, color="#495057"))
    for (a, b), label in (((x_img1[1], x_bars[0]), "encoder"), ((x_bars[1], x_img2[0]), "decoder")):
        middle = (a + b) / 2
        fig.add_annotation(x=middle, y=0.5, ax=-ARROW_PX, ay=0, xshift=ARROW_PX / 2, xref="paper", yref="paper",
                           showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=2.5, arrowcolor="#495057", text="")
        fig.add_annotation(x=middle, y=0.5, xanchor="center", yshift=16, xref="paper", yref="paper", text=label,
                           showarrow=False,
                           font=dict(size=12, color="#495057"))
    return fig


# One colour per run, the theme's categorical colours, so a run keeps its colour from chart to chart.
RUN_COLOURS = ("#3B5BDB", "#E8590C", "#2B8A3E", "#AE3EC9", "#1098AD", "#F08C00", "#C2255C", "#5C7CFA")
# Ten clearly different colours, one per class: every pair at least 27 apart in CIEDE2000 (Tableau 10's closest
# pair, the red and pink of Pullover and Sneaker, is 18 apart), each far from the white background; picked from
# Tableau, Okabe-Ito, Kelly and Tol's qualitative palettes by the largest smallest difference.
CLASS_COLOURS = ("#0072B2", "#FF7F0E", "#2CA02C", "#BE0032", "#332288", "#DCD300", "#CC79A7", "#17BECF",
                 "#654522", "#000000")


def run_colour(i: int) -> str:
    return RUN_COLOURS[i % len(RUN_COLOURS)]


def class_bars_figure(values: dict[str, dict[str, float]], value_name: str = "SSIM",
                      height: int = 380) -> go.Figure:
    """Grouped bars: classes across, one bar per run (`values[run name][class name]`), in the runs' colours."""
    fig = go.Figure()
    for i, (run, by_class) in enumerate(values.items()):
        run = plain_html(run)
        fig.add_trace(go.Bar(x=[plain_html(c) for c in by_class], y=list(by_class.values()), name=run,
                             marker_color=run_colour(i),
                             hovertemplate=f"%{{x}}<br>{value_name} %{{y:.3f}}<extra>{run}</extra>"))
    style(fig, height, barmode="group")
    fig.update_xaxes(type="category")  # digit classes are names too, not numbers on a scale
    fig.update_yaxes(title_text=value_name)
    return fig


def loss_curves_figure(curves: dict[str, Sequence[dict[str, float]]], measure: str = "loss",
                       height: int = 380) -> go.Figure:
    """Per-epoch validation (solid) and training (dashed) `measure` ("loss" or "mse") of each run, log scale.

    `curves[run name]` are the run's per-epoch history rows, which hold `val_<measure>` and `train_<measure>`.
    """
    title = "MSE" if measure == "mse" else "loss"
    fig = go.Figure()
    for i, (run, epochs) in enumerate(curves.items()):
        run = plain_html(run)
        for key, what, dash in ((f"val_{measure}", "validation", "solid"), (f"train_{measure}", "training", "dash")):
            points = [(row["epoch"], row[key]) for row in epochs if key in row]
            if not points:
                continue
            x, y = zip(*points)
            fig.add_trace(go.Scatter(x=x, y=y, name=f"{run} · {what}", legendgroup=run, mode="lines+markers",
                                     line=dict(color=run_colour(i), width=2.5, dash=dash), marker=dict(size=6),
                                     hovertemplate=f"epoch %{{x:.0f}}<br>{what} {title} %{{y:.4f}}<extra>{run}</extra>"))
    style(fig, height, hovermode="closest")
    last = max((int(row["epoch"]) for epochs in curves.values() for row in epochs), default=1)
    fig.update_xaxes(title_text="Epoch", range=[0.8, last + 0.2], dtick=_epoch_tick(last))
    values = [v for trace in fig.data for v in trace.y]
    fig.update_yaxes(title_text=f"{'MSE' if measure == 'mse' else 'Loss'} (log scale)", type="log",
                     tickformat=f".{significant_digits(values)}~g")
    return fig


def significant_digits(values: Sequence[float], ticks: int = 8) -> int:
    """Significant digits that keep `ticks` evenly spaced log-axis labels over the values apart: 3 for a range
    of a factor two or more, more when the values barely move."""
    positive = [float(v) for v in values if v > 0 and math.isfinite(v)]
    if len(positive) < 2 or max(positive) == min(positive):
        return 3
    step = (math.log10(max(positive)) - math.log10(min(positive))) / ticks  # between neighbouring ticks, in decades
    relative = 10 ** step - 1  # the relative gap between two neighbouring ticks
    return int(min(8, max(3, math.ceil(-math.log10(relative)) + 1)))


def latent_figure(points: np.ndarray, labels: np.ndarray, classes: Sequence[str], image_ids: np.ndarray,
                  axis_titles: Sequence[str], height: int = 620) -> go.Figure:
    """Map points (n, 2 or 3) coloured by class, the classes named in the legend.

    Each point carries its image's number as custom data, so a click tells which image it is; more than a
    thousand 2-D points are drawn with WebGL, which keeps panning smooth.
    """
    dims = points.shape[1]
    fig = go.Figure()
    for k, name in enumerate(classes):
        mine = labels == k
        if not mine.any():
            continue
        colour = CLASS_COLOURS[k % len(CLASS_COLOURS)]
        name = plain_html(name)  # a person's own class names are text, not Plotly's HTML
        common = dict(name=name, mode="markers", customdata=image_ids[mine][:, None],
                      hovertemplate=f"{name}<br>image %{{customdata[0]}}<extra></extra>")
        if dims == 3:
            fig.add_trace(go.Scatter3d(x=points[mine, 0], y=points[mine, 1], z=points[mine, 2],
                                       marker=dict(size=2.5, color=colour, opacity=0.8), **common))
        else:
            trace = go.Scattergl if len(points) > 1000 else go.Scatter
            fig.add_trace(trace(x=points[mine, 0], y=points[mine, 1], marker=dict(size=6, color=colour, opacity=0.75),
                                selected=dict(marker=dict(size=14, opacity=1.0)),
                                unselected=dict(marker=dict(opacity=0.3)), **common))
    style(fig, height, top=40, legend=dict(title_text="Class", itemsizing="constant", y=1, yanchor="top"),
          hovermode="closest", uirevision="latent", clickmode="event+select")
    if dims == 3:
        fig.update_layout(scene=dict(xaxis_title=axis_titles[0], yaxis_title=axis_titles[1],
                                     zaxis_title=axis_titles[2]))
    else:
        fig.update_layout(dragmode="pan")  # set, not left to the chart's default, so the page's words stay true
        fig.update_xaxes(title_text=axis_titles[0], zeroline=False)
        fig.update_yaxes(title_text=axis_titles[1], zeroline=False)
    return fig


def class_errors_figure(groups: dict[str, np.ndarray], highlight: str | None = None, height: int = 380) -> go.Figure:
    """One box per class of reconstruction errors (log scale); the `highlight` class drawn in the accent colour."""
    fig = go.Figure()
    for name, errors in groups.items():
        colour = ACCENT if name == highlight else PRIMARY
        name = plain_html(name)
        fig.add_trace(go.Box(y=np.asarray(errors, np.float64), name=name, marker_color=colour, line_color=colour,
                             boxpoints="outliers", marker=dict(size=3, opacity=0.5),
                             hovertemplate=f"{name}<br>error %{{y:.4f}}<extra></extra>"))
    style(fig, height, top=10, showlegend=False)
    long_names = sum(len(name) for name in groups) > 50
    # category, or class names such as "0".."9" would be read as numbers and half their labels dropped
    fig.update_xaxes(title_text=None, type="category", tickangle=-30 if long_names else 0)
    everything = np.concatenate([np.asarray(v, np.float64) for v in groups.values()]) if groups else np.ones(1)
    fig.update_yaxes(title_text="Reconstruction error (MSE, log scale)", type="log",
                     tickvals=log_ticks(everything, margin=2) or None)
    return fig


def roc_figure(fpr: np.ndarray, tpr: np.ndarray, auc: float, height: int = 380) -> go.Figure:
    """The ROC curve of flagging by error, against the diagonal of guessing, with its AUC in the legend."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Guessing (area 0.50)",
                             line=dict(color="#ADB5BD", dash="dash", width=1.5), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"This detector (area {auc:.2f})",
                             line=dict(color=PRIMARY, width=3), fill="tozeroy", fillcolor="rgba(59,91,219,0.12)",
                             hovertemplate="normal images flagged %{x:.0%}<br>odd ones caught %{y:.0%}<extra></extra>"))
    style(fig, height)
    fig.update_xaxes(title_text="Normal images wrongly flagged", range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="Odd ones caught", range=[0, 1.01], tickformat=".0%", scaleanchor="x", scaleratio=1)
    return fig


def error_histogram_figure(normal: np.ndarray, anomalous: np.ndarray, normal_name: str, height: int = 380) -> go.Figure:
    """Overlaid histograms of reconstruction error for the normal class and for every other class."""
    normal, anomalous = np.asarray(normal, np.float64), np.asarray(anomalous, np.float64)
    both = np.concatenate([normal, anomalous])
    lo, hi = np.log10(max(both.min(), 1e-6)), np.log10(max(both.max(), 1e-6))
    edges = np.logspace(lo, hi + 1e-9, 31)  # log-spaced bins: errors span orders of magnitude
    fig = go.Figure()
    groups = ((normal, f"{plain_html(normal_name)} (normal)", PRIMARY), (anomalous, "Every other class", ACCENT))
    for values, name, colour in groups:
        counts, _ = np.histogram(values, bins=edges)
        share = counts / max(len(values), 1)
        # a filled step line, since bars have no true width on a log axis
        fig.add_trace(go.Scatter(x=edges, y=np.append(share, share[-1]), name=name, mode="lines", line_shape="hv",
                                 line=dict(color=colour, width=2), fill="tozeroy", opacity=0.6,
                                 hovertemplate="error from %{x:.4f}<br>%{y:.1%} of these images<extra></extra>"))
    style(fig, height, hovermode="closest")
    fig.update_xaxes(title_text="Reconstruction error (MSE, log scale)", type="log",
                     tickvals=log_ticks(both, margin=2) or None)
    fig.update_yaxes(title_text="Share of images", tickformat=".0%")
    return fig
