import gc
import sys
import threading

import pytest

from aecore.memory import release, start_trimming, trim

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim is Linux only")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


@linux
def test_trim_returns_the_holes_a_finished_thread_left_in_its_heap():
    kept = []

    def churn():  # 200 MB of small blocks in this thread's arena; one in 50 stays alive, pinning the heap
        blocks = [bytearray(2000) for _ in range(100_000)]
        kept.extend(blocks[::50])

    start = rss_mb()
    t = threading.Thread(target=churn)
    t.start()
    t.join()
    before = rss_mb()
    assert before > start + 100  # the freed blocks still count: the heap cannot shrink past the survivors
    assert trim()
    assert rss_mb() < before - 100
    assert len(kept) == 2000


def test_the_trimming_thread_starts_once():
    first = start_trimming(every=3600)
    assert first.is_alive() and first.daemon
    assert start_trimming() is first


@linux
def test_release_frees_memory_held_only_by_a_reference_cycle():
    gc.disable()  # as between the app's periodic collections
    try:
        start = rss_mb()
        cycle = {"data": bytearray(150 * 2**20)}
        cycle["self"] = cycle
        del cycle
        held = rss_mb()
        assert held > start + 100  # unreachable, yet still there: only a collection finds it
        release()
        assert rss_mb() < held - 100
    finally:
        gc.enable()
