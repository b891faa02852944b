import subprocess
import sys

import numpy as np
import pytest
import torch

from aecore.config import DataConfig
from aecore.data import (DatasetUnavailable, FASHION_CLASSES, Split, class_gallery, is_available, load_dataset,
                         split_validation, to_float)


@pytest.mark.parametrize("name, n_train, n_test", [("fashion-mnist-sample", 10_000, 2_000), ("mnist-sample", 7_000, 1_200)])
def test_bundled_samples_are_real_balanced_images(name, n_train, n_test):
    train, test = load_dataset(DataConfig(name=name))
    assert (len(train), len(test)) == (n_train, n_test)
    assert train.shape == (1, 28, 28) and train.x.dtype == torch.uint8
    assert torch.equal(train.y.bincount(), torch.full((10,), n_train // 10))
    assert len(train.classes) == 10
    # real images: most pixels are background, yet many reach full brightness
    assert 0.1 < to_float(train.x).mean() < 0.4
    assert (train.x == 255).any()


def test_fashion_sample_matches_published_pixel_statistics():
    train, _ = load_dataset(DataConfig(name="fashion-mnist-sample"))
    x = to_float(train.x)
    assert abs(x.mean().item() - 0.2861) < 0.01
    assert abs(x.std().item() - 0.3528) < 0.01
    assert train.classes == FASHION_CLASSES


def test_digits_are_scaled_to_28x28():
    train, test = load_dataset(DataConfig(name="digits"))
    assert train.shape == (1, 28, 28)
    assert len(train) + len(test) == 1797
    assert train.x[:, :, :4].max() == 0  # the 4-pixel frame stays empty, as in MNIST


def test_torchvision_path_reads_shared_root(shared_root):
    train, test = load_dataset(DataConfig(name="fashion-mnist"), root=shared_root)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert train.shape == (1, 28, 28) and train.x.dtype == torch.uint8
    assert train.classes == FASHION_CLASSES
    assert abs(to_float(train.x[:5000]).mean().item() - 0.2861) < 0.01
    mtrain, mtest = load_dataset(DataConfig(name="mnist", limit_test=100), root=shared_root)
    assert len(mtrain) == 8504 and len(mtest) == 100


def test_torchvision_imports_in_a_fresh_process_through_aecore():
    code = "from aecore.torchvision_shim import import_torchvision; tv = import_torchvision(); print(tv.datasets.FashionMNIST.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "FashionMNIST"


def test_missing_torchvision_data_says_what_to_do(tmp_path):
    assert not is_available("mnist", tmp_path)
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(DataConfig(name="mnist"), root=tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message and "AECORE_DATA_DIR" in message and "download" in message.lower()


def test_limits_and_validation_split_are_seeded_and_disjoint():
    train, test = load_dataset(DataConfig(limit_train=500, limit_test=50))
    assert (len(train), len(test)) == (500, 50)
    a_train, a_val = split_validation(train, 0.2, seed=3)
    b_train, b_val = split_validation(train, 0.2, seed=3)
    assert len(a_val) == 100 and len(a_train) == 400
    assert torch.equal(a_val.x, b_val.x)
    together = torch.cat([a_train.x, a_val.x]).flatten(1)
    assert torch.unique(together, dim=0).shape[0] == torch.unique(train.x.flatten(1), dim=0).shape[0]
    assert split_validation(train, 0.0, seed=0)[1] is None


def test_split_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        Split(torch.rand(2, 1, 28, 28), torch.zeros(2, dtype=torch.long), ("a",))


@pytest.mark.parametrize("name", ["fashion-mnist-sample", "mnist-sample"])
def test_gallery_holds_each_class_in_order(name):
    grid, classes = class_gallery(name, per_class=4)
    assert grid.shape == (10, 4, 28, 28) and grid.dtype == np.uint8
    assert len(classes) == 10
    assert (grid.reshape(40, -1).max(axis=1) > 100).all()  # real images, no blank padding tiles


def test_gallery_rejects_an_empty_row():
    with pytest.raises(ValueError, match="per_class"):
        class_gallery("mnist-sample", per_class=0)
