"""The Home page's first look at codes: one image through PCA (pca_example.code_example)."""

from __future__ import annotations

import numpy as np
import pytest

from aecore.data import FASHION_CLASSES
from aecore.pca_example import code_example


def test_code_example_reconstructs_better_with_a_longer_code():
    errors = []
    for size in (2, 8, 64):
        ex = code_example("fashion-mnist-sample", label=9, code_size=size, fit_images=1000)
        assert ex.code.shape == (size,) and ex.image.shape == ex.reconstruction.shape == (28, 28)
        assert ex.label == FASHION_CLASSES[9]
        errors.append(np.mean((ex.image / 255 - ex.reconstruction / 255) ** 2))
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] < 0.05  # 8 numbers already keep the shape of a boot


def test_code_example_checks_its_arguments():
    with pytest.raises(ValueError, match="code_size"):
        code_example("mnist-sample", code_size=0)
    with pytest.raises(ValueError, match="class 12"):
        code_example("mnist-sample", label=12)
