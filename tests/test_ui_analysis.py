"""The analysis pages' pure helpers: heat-map colours, labelled grids and their figures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageFont

from ui.charts import CLASS_COLOURS, class_bars_figure, latent_figure, loss_curves_figure
from ui.map_selection import selected_image
from ui.images import FONT_SIZE, HEAT_STOPS, heat_colours, heat_scale, labelled_grid, shorten


def test_heat_colours_run_from_dark_to_bright_and_saturate():
    colours = heat_colours(np.array([0.0, 0.25, 0.5, 1.0, np.nan]), vmax=0.5)
    assert colours.shape == (5, 3) and colours.dtype == np.uint8
    assert np.array_equal(colours[0], HEAT_STOPS[0]) and np.array_equal(colours[2], HEAT_STOPS[-1])
    assert np.array_equal(colours[3], HEAT_STOPS[-1])  # beyond vmax: the brightest
    assert np.array_equal(colours[4], HEAT_STOPS[0])  # NaN: as if nothing differed
    brightness = heat_colours(np.linspace(0, 1, 50)).astype(int).sum(axis=1)
    assert np.all(np.diff(brightness) >= 0)  # readable in grey too
    assert heat_scale(100, 10).shape == (10, 100, 3)
    with pytest.raises(ValueError, match="vmax"):
        heat_colours(np.zeros(3), vmax=0)


def test_labelled_grid_mixes_grey_and_colour_rows_and_fits_its_labels():
    grey = np.full((3, 28, 28), 200, np.uint8)
    colour = heat_colours(np.random.default_rng(0).random((3, 28, 28)))
    img = labelled_grid([grey, colour], ["Original", "difference"], scale=2, pad=4)
    arr = np.asarray(img)
    assert img.mode == "RGB" and img.height == 2 * 56 + 4 + 16
    font = ImageFont.load_default(size=FONT_SIZE)
    label_width = int(font.getlength("difference")) + 20
    assert img.width == label_width + 3 * 56 + 2 * 4 + 16
    assert np.array_equal(arr[8 + 10, label_width + 8 + 10], [200, 200, 200])
    assert np.array_equal(arr[8 + 60 + 3, label_width + 8 + 3], colour[0, 1, 1])
    assert arr[:, :label_width].min() < 128  # the labels are drawn
    with pytest.raises(ValueError, match="labels"):
        labelled_grid([grey], ["a", "b"])


def test_long_labels_are_shortened_to_fit():
    font = ImageFont.load_default(size=FONT_SIZE)
    long = "mlp_ae · fashion-mnist-sample · z32 trained with a very long name indeed"
    short = shorten(long, font, 200)
    assert short.endswith("…") and font.getlength(short) <= 200 and long.startswith(short[:-1].rstrip())
    assert shorten("Original", font, 200) == "Original"
    img = labelled_grid([np.zeros((2, 28, 28), np.uint8)], [long], max_label_px=200)
    assert img.width <= 200 + 20 + 2 * 56 + 4 + 16


def test_class_bars_group_runs_over_categorical_classes():
    fig = class_bars_figure({"a": {"0": 0.5, "1": 0.7}, "b": {"0": 0.6, "1": 0.4}})
    assert [t.name for t in fig.data] == ["a", "b"] and fig.layout.barmode == "group"
    assert fig.layout.xaxis.type == "category" and list(fig.data[1].y) == [0.6, 0.4]
    assert fig.data[0].marker.color != fig.data[1].marker.color


def test_loss_curves_draw_validation_solid_and_training_dashed_in_one_colour_per_run():
    epochs = [{"epoch": 1, "train_loss": 0.05, "val_loss": 0.04}, {"epoch": 2, "train_loss": 0.03, "val_loss": 0.035}]
    fig = loss_curves_figure({"a": epochs, "b": [{"epoch": 1, "train_loss": 0.1}]})
    names = [t.name for t in fig.data]
    assert names == ["a · validation", "a · training", "b · training"]
    assert fig.data[0].line.dash == "solid" and fig.data[1].line.dash == "dash"
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color
    assert fig.layout.yaxis.type == "log"
    mse = loss_curves_figure({"a": [{"epoch": 1, "train_loss": 250.0, "train_mse": 0.03, "val_mse": 0.02}]}, "mse")
    assert [list(t.y) for t in mse.data] == [[0.02], [0.03]] and "MSE" in mse.layout.yaxis.title.text


@pytest.mark.parametrize("n, dims, kind", [(50, 2, "scatter"), (1500, 2, "scattergl"), (50, 3, "scatter3d")])
def test_latent_figure_colours_by_class_and_carries_image_numbers(n, dims, kind):
    rng = np.random.default_rng(0)
    points = rng.normal(size=(n, dims)).astype(np.float32)
    labels = np.arange(n) % 3
    ids = np.arange(n) * 10
    fig = latent_figure(points, labels, ("a", "b", "c", "empty"), ids, ["x", "y", "z"])
    assert [t.name for t in fig.data] == ["a", "b", "c"]  # a class without points gets no legend entry
    assert {t.type for t in fig.data} == {kind}
    first = fig.data[1]
    assert list(np.asarray(first.customdata)[:, 0]) == list(ids[labels == 1])
    assert first.marker.color == CLASS_COLOURS[1]
    assert fig.layout.clickmode == "event+select"
    assert fig.layout.dragmode == ("pan" if dims == 2 else None)  # what the Latent page says a drag does in 2-D


@pytest.mark.parametrize("point, image", [
    ({"curve_number": 0, "point_index": 5, "customdata": {"0": 74}}, 74),  # WebGL
    ({"curve_number": 1, "point_index": 2, "customdata": [127]}, 127),  # SVG
    ({"curve_number": 1, "point_index": 2, "customdata": 9.0}, 9),
    ({"curve_number": 1, "point_index": 2}, None),
    ({"customdata": []}, None),
    ({"customdata": ["x"]}, None),
])
def test_selected_image_reads_the_points_custom_data(point, image):
    assert selected_image(point) == image


def test_the_ten_class_colours_are_clearly_different_from_each_other_and_the_background():
    from itertools import combinations

    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = {c: rgb2lab(np.array([[[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)]]]))[0, 0] for c in CLASS_COLOURS}
    white = rgb2lab(np.ones((1, 1, 3)))[0, 0]
    assert len(set(CLASS_COLOURS)) == 10
    assert min(deltaE_ciede2000(lab[a], lab[b]) for a, b in combinations(CLASS_COLOURS, 2)) > 25
    assert min(deltaE_ciede2000(lab[c], white) for c in CLASS_COLOURS) > 25


def test_loss_curves_that_barely_move_get_tick_labels_that_differ():
    """Two runs whose MSE sits between 0.1665 and 0.168 drew '0.168' beside four different ticks."""
    rows = [{"epoch": 1.0, "val_mse": 0.1665, "train_mse": 0.1672}, {"epoch": 2.0, "val_mse": 0.168, "train_mse": 0.1671}]
    fig = loss_curves_figure({"a": rows, "b": rows[:1]}, "mse")
    digits = int(fig.layout.yaxis.tickformat.strip(".~g"))
    values = np.geomspace(0.1665, 0.168, 9)  # ticks as close as plotly may place them across the range
    labels = [f"{v:.{digits}g}" for v in values]
    assert len(set(labels)) == len(labels), labels
    assert loss_curves_figure({"a": [{"epoch": 1.0, "val_mse": 0.02}, {"epoch": 2.0, "val_mse": 0.2}]},
                              "mse").layout.yaxis.tickformat == ".3~g"  # a wide range keeps short labels
