"""Thirty short runs back to back through the job registry leak no thread, file handle or memory."""

import gc
import os
import threading
from pathlib import Path

from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.jobs import JobRegistry
from aecore.runs import list_runs

SHORT = RunConfig(DataConfig(limit_train=300, limit_test=50), ModelConfig(latent_dim=8, hidden=(64,)),
                  TrainConfig(epochs=1, batch_size=64))


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    fields = Path("/proc/self/status").read_text().split("VmRSS:")[1].split()
    return int(fields[0]) * 1024


def test_thirty_runs_leak_nothing(runs_dir):
    reg = JobRegistry(max_concurrent=1, keep_finished=5)
    for _ in range(3):  # warm-up: caches, lazy imports, allocator pools
        reg.wait(reg.start(SHORT), 60)
    gc.collect()
    threads, files, rss = threading.active_count(), open_files(), rss_bytes()
    ids = [reg.start(SHORT) for _ in range(30)]
    states = [reg.wait(i, 60).state for i in ids[-5:]]
    gc.collect()
    assert states == ["no_better"] * 5  # one short epoch: saved, marked as no better than the average image
    assert len(list_runs()) == 33
    assert threading.active_count() == threads and reg.active_threads() == 0
    assert open_files() <= files
    assert rss_bytes() < rss * 1.10 + 20 * 2**20, (rss, rss_bytes())
    assert len(reg.jobs()) <= 5 + 1  # finished jobs are forgotten beyond keep_finished
