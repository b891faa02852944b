"""What Ray costs a training job: the time Ray takes to start, and one job on Ray against the same job here.

Starts a local Ray (`ray.init(num_cpus=...)`), then trains one small job (1,500 FashionMNIST-sample images,
two epochs) through the local executor and through `aecore.cluster` on one CPU each (twice on Ray: each
job's actor is a fresh worker process that imports torch), and prints wall seconds from `start()` to the
saved run, the training seconds inside them, and the overhead of Ray per job against the local run.
Needs `pip install -r requirements-cluster.txt`; the figures swing with the machine's load, printed beside them.

    python benchmarks/bench_cluster.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

from aecore.background import Executor  # noqa: E402
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from aecore.device import set_threads  # noqa: E402
from aecore.jobs import JobRegistry  # noqa: E402

JOB = RunConfig(DataConfig(limit_train=1500, limit_test=100), ModelConfig(), TrainConfig(epochs=2, batch_size=64))


def timed_job(registry: JobRegistry) -> tuple[float, float]:
    """Seconds from start() to the saved run, and the training seconds the job itself reports."""
    start = time.perf_counter()
    p = registry.wait(registry.start(JOB), 600)
    if p.state != "done":
        raise SystemExit(f"the job ended {p.state}: {p.message}")
    return time.perf_counter() - start, p.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    args = parser.parse_args()
    os.environ["AECORE_RUNS_DIR"] = tempfile.mkdtemp(prefix="bench-cluster-")
    set_threads(1)  # the local job gets the one CPU a Ray job asks for

    start = time.perf_counter()
    import ray

    imported = time.perf_counter() - start
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start - imported
    from aecore.jobs import ray_registry

    local_wall, local_train = timed_job(JobRegistry(executor=Executor({"train": 1, "compute": 1})))
    on_ray = ray_registry(address="local")
    ray_runs = [timed_job(on_ray) for _ in range(2)]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"import ray {imported:.1f} s; ray.init (local, {args.cpus} CPUs) {started:.1f} s")
    print(f"local job: {local_wall:.1f} s from start to saved run ({local_train:.1f} s training)")
    for i, (wall, train) in enumerate(ray_runs, 1):
        print(f"Ray job {i}: {wall:.1f} s ({train:.1f} s training, {wall - train:.1f} s for Ray to give it a worker "
              f"process and bring its result back); {wall - local_wall:+.1f} s, {wall / local_wall:.2f}x the local job")
    ray.shutdown()


if __name__ == "__main__":
    main()
