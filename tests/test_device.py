import sys

import pytest
import torch

from aecore.device import make_adam, pick_device, warm_up


def test_pick_device_follows_the_environment(monkeypatch):
    monkeypatch.setenv("AECORE_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    monkeypatch.delenv("AECORE_DEVICE")
    mps = torch.backends.mps.is_available()
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")


def test_make_adam_uses_the_fused_kernel_on_cpu():
    opt = make_adam(torch.nn.Linear(3, 3).parameters(), 1e-3, 0.0, torch.device("cpu"))
    assert opt.defaults["fused"] is True


def test_warm_up_runs_once_and_leaves_the_optimiser_imports_done():
    thread = warm_up()
    thread.join(60)
    assert not thread.is_alive()
    assert warm_up() is thread
    assert "torch._dynamo" in sys.modules  # what the first Adam in a process would otherwise import


@pytest.mark.parametrize("bf16", [False, True])
def test_autocast_only_when_asked(bf16):
    from aecore.device import autocast

    with autocast(torch.device("cpu"), bf16):
        out = torch.nn.Linear(4, 4)(torch.ones(1, 4))
    assert out.dtype == (torch.bfloat16 if bf16 else torch.float32)
