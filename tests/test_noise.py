"""Input corruption for denoising: each kind of noise changes about the share of pixels it is asked to."""


import pytest
import torch
from aecore.noise import corrupt


@pytest.mark.parametrize("kind", ["gaussian", "salt_pepper", "mask"])
def test_corrupt_changes_about_the_asked_share(kind):
    x = torch.full((4, 1, 28, 28), 0.5)
    y = corrupt(x, kind, 0.2, torch.Generator().manual_seed(0))
    changed = (y != x).float().mean().item()
    if kind == "gaussian":
        assert changed > 0.99 and abs((y - x).std().item() - 0.2) < 0.02
    else:
        assert abs(changed - 0.2) < 0.03
    assert y.min() >= 0 and y.max() <= 1
    with pytest.raises(ValueError, match="gaussian"):
        corrupt(x, "speckle", 0.1)
