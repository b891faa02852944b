"""CIFAR-10 in its authors' binary layout: files written by the test in the real record format (fewer records per
file), read in colour, damaged files refused in a sentence, and the download path through a file:// mirror."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from aecore import cifar, download
from aecore.config import DataConfig
from aecore.data import DatasetUnavailable, is_available, load_dataset

PER_FILE = 20


@pytest.fixture(autouse=True)
def small_files(monkeypatch):
    monkeypatch.setattr(cifar, "PER_FILE", PER_FILE)  # the real files hold 10,000 records each


def batch(seed: int) -> bytes:
    """PER_FILE records: label i % 10, a red plane of 200, green of 10, blue of the label times 20."""
    records = np.zeros((PER_FILE, cifar.RECORD), np.uint8)
    for i in range(PER_FILE):
        records[i, 0] = (i + seed) % 10
        records[i, 1:1025], records[i, 1025:2049], records[i, 2049:] = 200, 10, records[i, 0] * 20
    return records.tobytes()


def write_layout(root) -> None:
    folder = root / cifar.FOLDER
    folder.mkdir(parents=True)
    for i, name in enumerate(cifar.FILES):
        (folder / name).write_bytes(batch(i))


def test_the_binary_layout_reads_in_colour(tmp_path):
    write_layout(tmp_path)
    train, test = load_dataset(DataConfig(name="cifar-10"), root=tmp_path)
    assert tuple(train.x.shape) == (5 * PER_FILE, 3, 32, 32) and len(test) == PER_FILE
    assert train.classes[3] == "cat"
    first = train.x[0]
    assert int(first[0, 5, 5]) == 200 and int(first[1, 5, 5]) == 10 and int(first[2, 5, 5]) == int(train.y[0]) * 20


@pytest.mark.parametrize("damage, words", [("short", "bytes; a CIFAR-10 batch is"), ("label", "holds label 12"),
                                           ("missing", "is not in")])
def test_a_damaged_file_is_one_sentence_naming_it(tmp_path, damage, words):
    write_layout(tmp_path)
    path = tmp_path / cifar.FOLDER / "test_batch.bin"
    if damage == "short":
        path.write_bytes(path.read_bytes()[:-1])
    elif damage == "label":
        data = bytearray(path.read_bytes())
        data[0] = 12
        path.write_bytes(bytes(data))
    else:
        path.unlink()
    with pytest.raises(DatasetUnavailable, match=words):
        load_dataset(DataConfig(name="cifar-10"), root=tmp_path)


def archive(extra_member: str | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, name in enumerate(cifar.FILES):
            data = batch(i)
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra_member:
            info = tarfile.TarInfo(extra_member)
            info.size = 5
            tar.addfile(info, io.BytesIO(b"owned"))
    return buf.getvalue()


def test_download_takes_only_the_six_batches_and_checks_the_sum(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    packed = archive(extra_member="../../escaped.txt")
    (mirror / cifar.ARCHIVE[0]).write_bytes(packed)
    sums = {"good": hashlib.md5(packed).hexdigest()}
    monkeypatch.setattr(download, "sources", lambda name: ((mirror.as_uri() + "/",), ((cifar.ARCHIVE[0], sums["md5"]),)))
    sums["md5"] = "0" * 32
    with pytest.raises(DatasetUnavailable, match="checksum"):
        download.download_dataset("cifar-10", tmp_path / "data")
    sums["md5"] = sums["good"]
    download.download_dataset("cifar-10", tmp_path / "data")
    assert is_available("cifar-10", tmp_path / "data")
    assert sorted(p.name for p in (tmp_path / "data" / cifar.FOLDER).iterdir()) == sorted(cifar.FILES)
    assert not list(tmp_path.rglob("escaped.txt"))
    train, _ = load_dataset(DataConfig(name="cifar-10"), root=tmp_path / "data")
    assert len(train) == 5 * PER_FILE
