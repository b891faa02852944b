"""Damaged dataset files: every kind is one plain `DatasetUnavailable` naming the file, through `load_dataset` and a page.

The layouts are the bundled FashionMNIST sample written out in torchvision's layout, then damaged one way each.
"""

from __future__ import annotations

import dataclasses
import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
import torch
from apptest import open_page, texts

from aecore import data
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.data import DatasetUnavailable, load_dataset
from aecore.idx import IdxError, read_idx
from aecore.store.runs import save_run
from aecore.train import train_run

ROOT = Path(__file__).resolve().parents[1]


def idx_bytes(array: np.ndarray, dtype: int = 0x08) -> bytes:
    return bytes([0, 0, dtype, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_layout(root: Path, n_train: int = 600, n_test: int = 200) -> Path:
    """The FashionMNIST sample's first images as `root/FashionMNIST/raw`, torchvision's layout; returns raw."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    with np.load(data.SAMPLES_DIR / "fashion-mnist-sample.npz") as f:
        parts = {"train": (f["x_train"][:n_train], f["y_train"][:n_train]),
                 "t10k": (f["x_test"][:n_test], f["y_test"][:n_test])}
    for prefix, (x, y) in parts.items():
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(idx_bytes(x.astype(np.uint8)))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(y.astype(np.uint8)))
    return raw


def damage(raw: Path, kind: str) -> str:
    """Damage the layout one way; returns the file name the message must give."""
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    if kind == "wrong magic":
        images.write_bytes(b"\x12\x34\x56\x78" + images.read_bytes()[4:])
    elif kind == "type 0x0A":
        images.write_bytes(images.read_bytes()[:2] + b"\x0a" + images.read_bytes()[3:])
    elif kind == "empty file":
        images.write_bytes(b"")
    elif kind == "100 labels":
        labels.write_bytes(idx_bytes(np.zeros(100, np.uint8)))
    elif kind == "zero images":
        images.write_bytes(idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    elif kind == "int32 labels":
        labels.write_bytes(idx_bytes(np.zeros(600, ">i4"), dtype=0x0C))
    elif kind == "32x32 test images":
        images = raw / "t10k-images-idx3-ubyte"
        images.write_bytes(idx_bytes(np.zeros((200, 32, 32), np.uint8)))
    elif kind == "label 200":
        labels.write_bytes(idx_bytes(np.full(600, 200, np.uint8)))
        return labels.name
    elif kind == "cut short":
        images.write_bytes(images.read_bytes()[:-1000])
    elif kind == "bad gzip":
        images.unlink()
        Path(f"{images}.gz").write_bytes(b"\x1f\x8b not really gzip")
        return images.name
    else:
        raise AssertionError(kind)
    return images.name if kind not in ("100 labels", "int32 labels") else labels.name


KINDS = ("wrong magic", "type 0x0A", "empty file", "100 labels", "zero images", "int32 labels", "32x32 test images",
         "label 200", "cut short", "bad gzip")


@pytest.fixture(autouse=True)
def fresh_cache():
    data._load.cache_clear()
    yield
    data._load.cache_clear()


def test_an_intact_layout_reads_as_the_sample_and_a_gzipped_one_too(tmp_path):
    raw = write_layout(tmp_path)
    train, test = load_dataset(DataConfig(name="fashion-mnist"), root=tmp_path)
    with np.load(data.SAMPLES_DIR / "fashion-mnist-sample.npz") as f:
        assert np.array_equal(train.x[:, 0].numpy(), f["x_train"][:600])
        assert np.array_equal(test.y.numpy(), f["y_test"][:200])
    for path in raw.iterdir():
        Path(f"{path}.gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    data._load.cache_clear()
    again, _ = load_dataset(DataConfig(name="fashion-mnist"), root=tmp_path)
    assert torch.equal(again.x, train.x) and torch.equal(again.y, train.y)


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_file_is_one_plain_sentence_naming_it(tmp_path, kind):
    raw = write_layout(tmp_path)
    name = damage(raw, kind)
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(DataConfig(name="fashion-mnist"), root=tmp_path)
    message = str(err.value)
    assert name in message and str(raw) in message, message
    assert "download it again" in message and "\n" not in message
    assert isinstance(err.value.__cause__, IdxError)


def test_a_garbage_torchvision_cache_is_never_unpickled(tmp_path):
    write_layout(tmp_path)
    processed = tmp_path / "FashionMNIST" / "processed"
    processed.mkdir()
    for name in ("training.pt", "test.pt"):  # torchvision would unpickle these before it looked at raw/
        (processed / name).write_bytes(b"\x80\x04garbage that would not unpickle")
    train, test = load_dataset(DataConfig(name="fashion-mnist"), root=tmp_path)
    assert (len(train), len(test)) == (600, 200)


def test_a_huge_file_behind_a_small_header_is_refused_without_reading_it(tmp_path):
    """A 1 GiB sparse file whose header claims ten images, read in a child whose address space is capped."""
    raw = write_layout(tmp_path)
    images = raw / "train-images-idx3-ubyte"
    with open(images, "wb") as f:
        f.write(idx_bytes(np.zeros((10, 28, 28), np.uint8)))
        f.truncate(2**30)
    code = f"""
import resource, time
from pathlib import Path
from aecore.config import DataConfig
from aecore.data import DatasetUnavailable, load_dataset
vm = int(next(l for l in open('/proc/self/status') if l.startswith('VmSize')).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.RLIM_INFINITY))
start = time.monotonic()
try:
    load_dataset(DataConfig(name="fashion-mnist"), root={str(tmp_path)!r})
except DatasetUnavailable as err:
    print("refused", round(time.monotonic() - start, 3), err)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("refused"), out.stdout
    seconds = float(out.stdout.split()[1])
    assert seconds < 2 and "1,073,741,824 bytes long" in out.stdout


def test_read_idx_refuses_a_gzip_stream_longer_than_its_header(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    Path(f"{path}.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(10, np.uint8)) + b"\0" * 10_000_000))
    with pytest.raises(IdxError, match="does not hold the 10 bytes"):
        read_idx(path, rank=1)
    Path(f"{path}.gz").write_bytes(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8))))
    assert read_idx(path, rank=1).tolist() == list(range(10))


def test_a_page_says_which_file_is_damaged(tmp_path, monkeypatch):
    """A run trained on an intact layout; once a file is damaged, the Latent page shows the sentence, not a traceback."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AECORE_DATA_DIR", str(tmp_path))
    raw = write_layout(tmp_path)
    cfg = RunConfig(DataConfig(name="fashion-mnist"), ModelConfig(latent_dim=4, hidden=(16,)),
                    TrainConfig(epochs=1, max_steps=3, val_fraction=0.0, patience=0), name="on the full set")
    result = train_run(cfg, device="cpu")
    save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")))
    st.cache_resource.clear()  # no test split of an earlier test's layout
    raw.joinpath("t10k-images-idx3-ubyte").write_bytes(b"\x12\x34\x56\x78")
    data._load.cache_clear()
    at = open_page("pages/latent.py", state={})
    shown = texts(at.error)
    assert "t10k-images-idx3-ubyte" in shown and "not an IDX file" in shown, shown
