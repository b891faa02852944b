"""The app's pure helpers: image grids, figures, the strip of reconstructions, durations and the runs table."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from aecore.config import RunConfig
from aecore.jobs import Progress
from ui.charts import autoencoder_figure, log_ticks, loss_figure
from ui.images import enlarge_png, labelled_rows, png_bytes, tile_rows
from ui.progress import progress_text, strip_image
from ui.runs import file_name
from ui.widgets import format_duration


def images(n: int, value: int) -> np.ndarray:
    return np.full((n, 28, 28), value, np.uint8)


def test_tile_rows_places_every_image_with_white_gaps():
    grid = tile_rows([images(3, 10), images(2, 200)], scale=2, pad=4)
    assert grid.shape == (2 * 56 + 4, 3 * 56 + 2 * 4)
    assert grid[0, 0] == 10 and grid[60, 0] == 200
    assert grid[56:60].min() == 255  # the gap between rows
    assert grid[60:, 2 * 60:].min() == 255  # the shorter row is padded with white


def test_tile_rows_refuses_mixed_sizes():
    with pytest.raises(ValueError, match="28x28"):
        tile_rows([images(2, 0), np.zeros((1, 14, 14), np.uint8)])


def test_labelled_rows_leaves_room_for_labels():
    img = labelled_rows([images(4, 0), images(4, 0)], ["Original", "Epoch 1"], label_width=100)
    assert img.mode == "RGB" and img.width > 100 + 4 * 56
    left = np.asarray(img)[:, :100]
    assert left.min() < 128  # the labels are drawn there
    with pytest.raises(ValueError, match="labels"):
        labelled_rows([images(1, 0)], ["a", "b"])


def test_strip_keeps_the_untrained_and_the_newest_epoch():
    recons = tuple((e, images(8, e)) for e in range(21))
    img = strip_image(images(8, 255), recons, max_rows=6)
    rows = (img.height - 16 + 4) // 60
    assert rows == 7  # originals + 6 of the 21 epochs
    short = strip_image(images(8, 255), recons[:3])
    assert (short.height - 16 + 4) // 60 == 4


def test_enlarge_png_keeps_pixels_sharp():
    small = png_bytes(Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)))
    big = np.asarray(Image.open(io.BytesIO(enlarge_png(small, scale=3))))
    assert big.shape == (6, 6) and set(np.unique(big)) == {0, 255}


def test_loss_figure_draws_batches_and_epochs_on_an_epoch_axis():
    curve = [(s, 1.0 / s) for s in range(1, 21)]
    epochs = [{"epoch": 1.0, "train_loss": 0.2, "val_loss": 0.25}, {"epoch": 2.0, "train_loss": 0.1, "val_loss": 0.12}]
    fig = loss_figure(curve, epochs, total_steps=20, total_epochs=2)
    assert [t.name for t in fig.data] == ["Training loss, per batch", "Training loss, per epoch",
                                          "Validation loss, per epoch"]
    assert fig.data[0].x[-1] == pytest.approx(2.0)
    assert fig.layout.yaxis.type == "log"
    assert len(loss_figure([], [], 0, 5).data) == 0


def test_autoencoder_figure_shows_both_images_and_the_code():
    fig = autoencoder_figure(images(1, 0)[0], np.array([0.5, -1.0, 2.0]), images(1, 9)[0])
    assert [t.type for t in fig.data] == ["image", "image", "bar"]
    assert {a.text for a in fig.layout.annotations} >= {"encoder", "decoder"}


def test_log_ticks_are_few_and_round():
    assert log_ticks([0.001, 0.5]) == [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]
    assert log_ticks([0.03, 0.18]) == [0.03, 0.05, 0.1]
    assert log_ticks([0.02, 0.09]) == [0.02, 0.03, 0.05]
    assert log_ticks([0.021, 0.029]) == []  # no round value inside: Plotly's own ticks stay
    assert log_ticks([float("nan"), 0.0]) == []


@pytest.mark.parametrize("seconds, text", [(None, "—"), (4.4, "4 s"), (65, "1 min 05 s"), (3725, "1 h 02 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_progress_text_names_epoch_and_batch():
    p = Progress("j", "running", RunConfig(), epoch=2, total_epochs=5, step=120, total_steps=5 * 70)
    assert progress_text(p) == "Epoch 2/5 · batch 50/70"
    assert progress_text(Progress("j", "running", RunConfig())).startswith("Loading")


def test_file_name_is_safe():
    assert file_name("mlp_ae · fashion-mnist-sample · z32") == "mlp_ae-fashion-mnist-sample-z32.zip"
    assert file_name("../../") == "run.zip"


@pytest.mark.parametrize("address, word", [("", "a training place is free"), ("ray://head:10001", "free worker")])
def test_a_waiting_job_says_what_it_waits_for_on_one_machine_or_a_cluster(monkeypatch, address, word):
    from streamlit.testing.v1 import AppTest

    def page():
        from aecore.config import RunConfig
        from aecore.jobs import Progress
        from ui.progress import show_queued

        show_queued(Progress("j1", "queued", RunConfig(), queue_position=2))

    monkeypatch.setenv("AECORE_RAY_ADDRESS", address)
    at = AppTest.from_function(page).run()
    assert not at.exception
    assert "number 2 in line" in at.info[0].value and word in at.info[0].value


def test_shown_leaves_plain_names_and_puts_the_rest_in_a_code_span():
    from ui.text import plain, shown

    for name in ("T-shirt/top", "Ankle boot", "7", "Zoé's cats (big)"):
        assert shown(name) == name
    for name in ("**bold**", "www.example.com", "a_b_", "<b>x</b>", ":red[x]", "x@y.z", "[x](y)", "$x$"):
        assert shown(name) == plain(name)
