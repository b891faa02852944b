import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aecore import background, workers
from aecore.device import available_cpus, cgroup_cpu_limit, make_adam, pick_device
from aecore.prepare import warm_up
from tests import worker_units

ROOT = Path(__file__).resolve().parents[1]


def test_pick_device_follows_the_environment(monkeypatch):
    monkeypatch.setenv("AECORE_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    monkeypatch.delenv("AECORE_DEVICE")
    mps = torch.backends.mps.is_available()
    assert pick_device().type == ("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")


@pytest.mark.parametrize("name, message", [("gpu", "unknown device 'gpu'"), ("cuda:99", "cuda:99 is not available"),
                                           ("cpu:0x", "unknown device")])
def test_pick_device_refuses_unknown_and_absent_devices(monkeypatch, name, message):
    with pytest.raises(ValueError, match=message):
        pick_device(name)
    monkeypatch.setenv("AECORE_DEVICE", name)
    with pytest.raises(ValueError, match=message):
        pick_device()


def test_make_adam_uses_the_fused_kernel_on_cpu():
    opt = make_adam(torch.nn.Linear(3, 3).parameters(), 1e-3, 0.0, torch.device("cpu"))
    assert opt.defaults["fused"] is True


def test_warm_up_starts_the_workers_with_the_optimiser_imports_done():
    warm_up()
    pool = workers.pool()
    started = time.monotonic()
    while len(pool.pids()) < pool.size:
        assert time.monotonic() - started < 5, "warm_up starts the workers at once, not as they are asked for"
        time.sleep(0.05)
    warm_up()
    assert len(pool.pids()) == pool.size  # asked on every page: no more workers
    work = workers.submit(worker_units.modules, ("torch._dynamo", "torch"))
    assert background.wait(work, 120).result == [True, True]  # what the first Adam in a process would import


@pytest.mark.parametrize("bf16", [False, True])
def test_autocast_only_when_asked(bf16):
    from aecore.device import autocast

    with autocast(torch.device("cpu"), bf16):
        out = torch.nn.Linear(4, 4)(torch.ones(1, 4))
    assert out.dtype == (torch.bfloat16 if bf16 else torch.float32)


def run_python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "AECORE_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and at least two CPUs")
def test_set_threads_uses_only_the_cpus_this_process_may_run_on():
    code = ("import os, torch; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from aecore.device import available_cpus, set_threads; "
            "print(os.cpu_count(), available_cpus(), set_threads(), torch.get_num_threads())")
    cpu_count, available, threads, torch_threads = map(int, run_python(code).split())
    assert cpu_count >= 2 and available == threads == torch_threads == 1


def write_cgroup(root, files: dict[str, str]):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("files, limit", [
    ({}, None),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "garbage\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
    ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "0\n"}, None),
])
def test_cgroup_cpu_limit_reads_v2_and_v1_quotas(tmp_path, files, limit):
    root = write_cgroup(tmp_path / "cgroup", files)
    assert cgroup_cpu_limit(root, tmp_path / "no-membership-file") == limit


def test_cgroup_cpu_limit_takes_the_tightest_of_the_process_cgroup_and_its_parents(tmp_path):
    root = write_cgroup(tmp_path / "cgroup", {
        "cpu.max": "max 100000\n", "a/cpu.max": "200000 100000\n", "a/b/cpu.max": "max 100000\n",
        "cpu/jobs/cpu.cfs_quota_us": "300000\n", "cpu/jobs/cpu.cfs_period_us": "100000\n",
    })
    membership = tmp_path / "cgroup-membership"
    membership.write_text("0::/a/b\n")
    assert cgroup_cpu_limit(root, membership) == 2.0
    membership.write_text("2:cpu,cpuacct:/jobs\n1:memory:/a/b\n")
    assert cgroup_cpu_limit(root, membership) == 3.0


def test_available_cpus_is_capped_by_the_quota_and_never_below_one(tmp_path):
    none = tmp_path / "no-membership-file"
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert available_cpus(write_cgroup(tmp_path / "free", {"cpu.max": "max 100000"}), none) == allowed
    assert available_cpus(write_cgroup(tmp_path / "half", {"cpu.max": "50000 100000"}), none) == 1
    assert available_cpus(write_cgroup(tmp_path / "many", {"cpu.max": "6400000 100000"}), none) == allowed
