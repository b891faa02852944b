"""A picture among the test images: on the map where its code is, next to the test images it resembles, and
unusual when the model redraws it worse than nearly all of them."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from aecore.config import DataConfig
from aecore.data import load_dataset
from aecore.placement import place, build_map
from aecore.presets import get_preset
from aecore.train import train_run


@pytest.fixture(scope="module")
def digits():
    cfg = get_preset("mnist-64")
    cfg = dataclasses.replace(cfg, data=DataConfig(name="mnist-sample", limit_test=600),
                              train=dataclasses.replace(cfg.train, epochs=3))
    result = train_run(cfg, "cpu")
    assert result.history.ok
    return result.model, load_dataset(cfg.data)[1]


def test_a_test_image_lands_on_its_own_point_beside_its_class(digits):
    model, test = digits
    tmap = build_map(model, test, n=500)
    row = 7
    image = test.x[int(tmap.indices[row]), 0].numpy()
    where = place(tmap, model, image, k=6)
    assert where.nearest[0] == row  # its own code is the nearest
    assert np.allclose(where.point, tmap.points[row], atol=1e-4)
    purity = np.mean([(tmap.labels[place(tmap, model, test.x[int(tmap.indices[r]), 0].numpy()).nearest[1:]]
                       == tmap.labels[r]).mean() for r in range(0, 500, 10)])
    assert purity >= 0.5  # neighbours are mostly of the picture's own kind (a tenth by chance)
    assert where.error == pytest.approx(float(tmap.errors[row]), rel=1e-4) and not where.unusual


def test_noise_is_unusual_and_the_map_axes_hold_most_of_the_variance_they_can(digits):
    model, test = digits
    tmap = build_map(model, test, n=500)
    noise = (np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
    where = place(tmap, model, noise)
    assert where.unusual and where.worse_than > 0.99
    assert 0 < tmap.explained[1] <= tmap.explained[0] < 1
    centred = tmap.codes - tmap.codes.mean(0)
    assert np.allclose(tmap.points, centred @ tmap.axes.T, atol=1e-3)  # the map is the codes on its axes


def test_a_model_whose_codes_are_not_finite_is_refused(digits):
    model, test = digits


    bad = copy.deepcopy(model)
    with torch.no_grad():
        next(bad.parameters()).view(-1)[0] = float("nan")
    with pytest.raises(ValueError):
        build_map(bad, test, n=100)


def test_a_colour_picture_lands_on_its_own_point_on_a_colour_model_map():
    from aecore.config import ModelConfig
    from aecore.data import Split, images_at
    from aecore.models import build_model

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(80, 3, 16, 16, generator=g) * 255).to(torch.uint8)
    split = Split(x, torch.arange(80) % 4, ("a", "b", "c", "d"))
    model = build_model(ModelConfig("conv_ae", 8, (8, 16)), (3, 16, 16), seed=0)
    tmap = build_map(model, split, n=60)
    image = images_at(split, tmap.indices[[5]])[0]  # (16, 16, 3): as the pages show and pass it
    where = place(tmap, model, image, k=3)
    assert image.shape == (16, 16, 3) and where.nearest[0] == 5
    assert np.allclose(where.point, tmap.points[5], atol=1e-4)
