"""One image through a model: a real PNG upload or a test image in, its reconstruction, error and scores out."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from aecore.uploads import load_user_image
from aecore.metrics import mse
from aecore.models import build_model
from aecore.config import default_config
from aecore.infer import image_uint8
from aecore.data import pick_test_image
from aecore.infer import reconstruct_image


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model(default_config("conv_ae"), (1, 28, 28)).eval()


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def test_an_uploaded_png_is_reconstructed_and_scored(model):
    picture = np.full((90, 60), 235, np.uint8)
    picture[20:70, 15:45] = 30  # a dark block on a light background
    user = load_user_image(png(picture))
    r = reconstruct_image(model, user.preview)
    assert r.image.shape == r.reconstruction.shape == r.difference.shape == (28, 28)
    assert r.image.dtype == np.float32 and 0 <= r.reconstruction.min() and r.reconstruction.max() <= 1
    np.testing.assert_allclose(r.image, user.preview / 255, atol=1e-6)
    np.testing.assert_allclose(r.difference, np.abs(r.image - r.reconstruction), atol=1e-6)
    expected = mse(torch.from_numpy(r.image)[None, None], torch.from_numpy(r.reconstruction)[None, None])
    assert r.mse == pytest.approx(float(expected), rel=1e-5)
    assert r.mse == pytest.approx(float(np.mean(r.difference**2)), rel=1e-4)
    assert r.psnr == pytest.approx(10 * np.log10(1 / r.mse), rel=1e-4)


@pytest.mark.parametrize("shape", [(28, 28), (1, 28, 28), (1, 1, 28, 28)])
def test_every_single_image_shape_gives_the_same_result(model, shape):
    image = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    base = reconstruct_image(model, image)
    other = reconstruct_image(model, image.reshape(shape).astype(np.float32) / 255)
    np.testing.assert_allclose(other.reconstruction, base.reconstruction, atol=1e-6)


@pytest.mark.parametrize("image", [np.zeros((32, 32), np.uint8), np.zeros((2, 1, 28, 28), np.float32),
                                   np.full((28, 28), 2.0, np.float32), np.full((28, 28), np.nan, np.float32)])
def test_images_the_model_cannot_take_are_refused(model, image):
    with pytest.raises(ValueError):
        reconstruct_image(model, image)


def test_pick_test_image_takes_the_nth_of_a_class_and_wraps():
    image, name = pick_test_image("fashion-mnist-sample", 7, 0)
    assert image.shape == (28, 28) and image.dtype == np.uint8 and name == "Sneaker"
    again, _ = pick_test_image("fashion-mnist-sample", 7, 200)  # 200 sneakers in the sample's test split
    np.testing.assert_array_equal(image, again)
    assert not np.array_equal(image, pick_test_image("fashion-mnist-sample", 7, 1)[0])
    with pytest.raises(ValueError):
        pick_test_image("fashion-mnist-sample", 10)


def test_image_uint8_keeps_colour_and_grey_apart():
    x = torch.zeros(2, 3, 4, 4)
    x[:, 0] = 1.0  # pure red
    shown = image_uint8(x)
    assert shown.shape == (2, 4, 4, 3) and shown[0, 0, 0].tolist() == [255, 0, 0]
    assert image_uint8(x[:, :1]).shape == (2, 4, 4)
    assert image_uint8(torch.full((1, 2, 4, 4), 0.5)).shape == (1, 4, 4)  # two channels: averaged to grey


def test_image_uint8_takes_numpy_keeps_other_shapes_and_zeroes_nan():
    x = np.array([[[[0.0, 1.0], [0.5, np.nan]]]], np.float32)  # (1, 1, 2, 2)
    assert image_uint8(x).tolist() == [[[0, 255], [128, 0]]]
    assert image_uint8(np.full((3, 4), 2.0)).shape == (3, 4) and image_uint8(np.full((3, 4), 2.0)).max() == 255
