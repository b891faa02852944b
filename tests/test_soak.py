"""Thirty short runs back to back through the job registry and its executor leak no thread, file handle or memory."""

import gc
import os
import threading
import time
from pathlib import Path

from aecore.background import Executor
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.jobs import JobRegistry
from aecore.store.runs import list_runs

SHORT = RunConfig(DataConfig(limit_train=300, limit_test=50), ModelConfig(latent_dim=8, hidden=(64,)),
                  TrainConfig(epochs=1, batch_size=64))


def open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    fields = Path("/proc/self/status").read_text().split("VmRSS:")[1].split()
    return int(fields[0]) * 1024


def settled_threads(idle: int) -> int:
    """The thread count once it is back to `idle` or 5 s have passed: a worker ends just after its work's snapshot."""
    deadline = time.monotonic() + 5
    while threading.active_count() > idle and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


def test_thirty_runs_leak_nothing(runs_dir):
    idle = threading.active_count()
    reg = JobRegistry(executor=Executor({"train": 1, "compute": 1}, keep_finished=5), keep_finished=5)
    for _ in range(3):  # warm-up: caches, lazy imports, allocator pools
        reg.wait(reg.start(SHORT), 60)
    gc.collect()
    threads, files, rss = settled_threads(idle), open_files(), rss_bytes()
    ids = [reg.start(SHORT) for _ in range(30)]
    states = [reg.wait(i, 60).state for i in ids[-5:]]
    gc.collect()
    assert states == ["no_better"] * 5  # one short epoch: saved, marked as no better than the average image
    assert len(list_runs()) == 33
    assert settled_threads(threads) == threads, threading.enumerate()
    assert len(reg.executor.snapshots()) <= 5 + 1
    assert open_files() <= files
    assert rss_bytes() < rss * 1.10 + 20 * 2**20, (rss, rss_bytes())
    assert len(reg.jobs()) <= 5 + 1  # finished jobs are forgotten beyond keep_finished
