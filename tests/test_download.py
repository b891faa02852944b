"""Dataset download without the network: a file:// mirror for the success path, a closed port for offline."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time

import pytest

from aecore import background, download, prepare
from aecore.data import DatasetUnavailable, is_available

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
OFFLINE = ("http://127.0.0.1:9/",)  # the discard port: connection refused at once, nothing leaves the machine


@pytest.fixture
def local_mirror(tmp_path, monkeypatch):
    """A folder of four small gzipped files served as a file:// mirror, with their MD5s as the expected sums."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    resources = []
    for i, stem in enumerate(FILES):
        packed = gzip.compress(bytes([i]) * 1000)
        (mirror / f"{stem}.gz").write_bytes(packed)
        resources.append((f"{stem}.gz", hashlib.md5(packed).hexdigest()))
    monkeypatch.setattr(download, "sources", lambda name: ((mirror.as_uri() + "/",), tuple(resources)))
    return mirror


def test_download_unpacks_into_torchvision_layout(tmp_path, local_mirror):
    seen = []
    raw = download.download_dataset("mnist", tmp_path / "data", on_progress=seen.append)
    assert raw == tmp_path / "data" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(FILES)
    assert (raw / FILES[1]).read_bytes() == bytes([1]) * 1000
    assert is_available("mnist", tmp_path / "data")
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_checksum_mismatch_is_refused(tmp_path, local_mirror):
    (local_mirror / f"{FILES[0]}.gz").write_bytes(gzip.compress(b"tampered"))
    with pytest.raises(DatasetUnavailable, match="checksum"):
        download.download_dataset("mnist", tmp_path / "data")
    assert not (tmp_path / "data" / "MNIST" / "raw" / FILES[0]).exists()


def test_offline_download_is_a_clear_dataset_unavailable(tmp_path):
    with pytest.raises(DatasetUnavailable) as err:
        download.download_dataset("fashion-mnist", tmp_path, mirrors=OFFLINE, timeout=5)
    message = str(err.value)
    assert "could not download" in message and "127.0.0.1" in message
    assert "internet connection" in message and "bundled sample" in message
    assert not is_available("fashion-mnist", tmp_path)


def test_bundled_datasets_are_not_downloadable(tmp_path):
    with pytest.raises(ValueError, match="bundled or unknown"):
        download.download_dataset("mnist-sample", tmp_path)


def test_background_download_reports_failure_then_success(tmp_path, local_mirror, monkeypatch):
    def wait(name):
        deadline = time.monotonic() + 30
        while (status := prepare.download_status(name)).state == "running":
            assert time.monotonic() < deadline, status
            time.sleep(0.02)
        return status

    monkeypatch.setattr(prepare, "_status", {})
    assert prepare.download_status("mnist").state == "idle"
    prepare.start_download("mnist", tmp_path / "offline", mirrors=OFFLINE)
    failed = wait("mnist")
    assert failed.state == "failed" and "could not download" in failed.message
    prepare.start_download("mnist", tmp_path / "data")
    done = wait("mnist")
    assert (done.state, done.fraction, done.message) == ("done", 1.0, "")
    assert prepare.start_download("mnist", tmp_path / "data").state == "done"  # already there: no new thread


def test_a_download_waits_for_a_compute_slot_and_two_starts_share_it(tmp_path, local_mirror, monkeypatch):
    monkeypatch.setattr(prepare, "_status", {})
    monkeypatch.setattr(background, "_executor", background.Executor({"compute": 1}))
    gate = threading.Event()
    blocker = background.submit(lambda ctx: gate.wait(30), "compute")  # a map being drawn, say
    waiting = prepare.start_download("mnist", tmp_path / "data")
    assert (waiting.state, waiting.fraction, waiting.message) == ("running", 0.0, "waiting for other work to finish")
    work = prepare._status["mnist"]
    prepare.start_download("mnist", tmp_path / "data")  # a second click, or a second session
    assert prepare._status["mnist"] == work
    gate.set()
    assert background.wait(blocker, 10).state == "done" and background.wait(work, 30).state == "done"
    assert prepare.download_status("mnist").state == "done" and is_available("mnist", tmp_path / "data")
