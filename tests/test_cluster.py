"""Training jobs on a real local Ray of two worker CPUs, one per module: runs, overlap, Stop, pause, a dead worker."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aecore.background import Executor
from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aecore.data import load_dataset
from aecore.jobs import JobRegistry
from aecore.scoring import evaluate
from aecore.store.runs import list_runs, load_model, load_run

SMALL = RunConfig(DataConfig(limit_train=1500, limit_test=100), ModelConfig(), TrainConfig(epochs=2, batch_size=64))
LONG = RunConfig(DataConfig(limit_test=100), ModelConfig(), TrainConfig(epochs=200, batch_size=32, patience=0))


@pytest.fixture(scope="module")
def ray_cpus():
    """One local Ray for the module, with two worker CPUs; it takes seconds to start."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)  # never a running cluster
    yield 2
    ray.shutdown()


@pytest.fixture
def cluster(ray_cpus, runs_dir):
    """A registry on the module's Ray; whatever a test leaves training is stopped, so the next test has both CPUs."""
    from aecore.jobs import ray_registry

    registry = ray_registry(address="local")
    yield registry
    left = [p.job_id for p in registry.jobs() if not p.finished]
    for job_id in left:
        registry.stop(job_id)
    for job_id in left:
        registry.wait(job_id, 60)


def _wait_for(predicate, timeout=60.0, what="the job"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_ray_job_saves_a_run_that_loads_and_scores_like_a_local_one(cluster, tmp_path):
    ray_job = cluster.progress(cluster.start(SMALL)).job_id
    local = JobRegistry(executor=Executor({"train": 1, "compute": 1}), root=tmp_path / "local")
    here = local.wait(local.start(SMALL), 120)
    there = cluster.wait(ray_job, 120)
    assert there.state == here.state == "done", there.message
    assert there.step == here.step == 44 and [e for e, _ in there.recons] == [0, 1, 2]  # progress streamed back
    assert there.images_per_sec > 0 and there.curve[-1][0] == 44 and len(there.epochs) == 2
    assert cluster.train.worker(ray_job).pid != os.getpid()  # it trained in a Ray worker, not here
    info = load_run(there.run_id)  # in the server's own store
    assert info.ok and info.config == SMALL and [r.id for r in list_runs()] == [there.run_id]
    _, test = load_dataset(SMALL.data)
    scores = evaluate(load_model(info), test)
    assert scores["mse"] == pytest.approx(there.metrics["mse"], rel=1e-5)
    assert there.metrics["mse"] == pytest.approx(here.metrics["mse"], rel=1e-2)  # same seed; threads may differ
    assert there.metrics["ssim"] == pytest.approx(here.metrics["ssim"], rel=1e-2)


def test_two_jobs_train_at_once_a_third_waits_and_stop_frees_a_worker(cluster):
    jobs = [cluster.start(LONG) for _ in range(3)]
    running = lambda job_id: cluster.progress(job_id).state == "running" and cluster.progress(job_id).step > 0
    _wait_for(lambda: sum(map(running, jobs)) == 2, what="two jobs to train")
    first, second = [j for j in jobs if running(j)]  # Ray's scheduler picks which two
    (third,) = [j for j in jobs if j not in (first, second)]
    time.sleep(1.0)  # the two keep both CPUs: the third still waits
    assert cluster.progress(third).state == "queued" and cluster.progress(third).queue_position == 1
    assert cluster.train.worker(first).pid != cluster.train.worker(second).pid
    cluster.stop(first, keep=True)
    stopped = cluster.wait(first, 30)
    assert stopped.state == "stopped" and load_run(stopped.run_id).status == "stopped"
    _wait_for(lambda: running(third), what="the third job to take the freed worker")
    for job_id in (second, third):
        cluster.stop(job_id)
        p = cluster.wait(job_id, 30)
        assert p.state == "stopped" and p.run_id is None
    a, b = cluster.train.worker(first), cluster.train.worker(second)
    assert a.started < b.ended and b.started < a.ended  # their training overlapped in time
    assert [r.id for r in list_runs()] == [stopped.run_id]


def test_a_queued_ray_job_is_stopped_before_it_starts(cluster):
    busy = [cluster.start(LONG) for _ in range(2)]
    # Ray does not start jobs in the order they came: the third is asked for once both CPUs are taken
    _wait_for(lambda: all(cluster.progress(j).state == "running" for j in busy), what="two jobs to start")
    waiting = cluster.start(SMALL)
    time.sleep(1.0)
    assert cluster.progress(waiting).state == "queued"
    cluster.stop(waiting)
    p = cluster.wait(waiting, 30)
    assert p.state == "stopped" and "before it started" in p.message and cluster.train.worker(waiting) is None
    for job_id in busy:
        cluster.stop(job_id)
        assert cluster.wait(job_id, 30).state == "stopped"


def test_a_paused_ray_job_holds_on_its_worker_and_trains_on_when_resumed(cluster):
    job_id = cluster.start(LONG)
    _wait_for(lambda: cluster.progress(job_id).step > 0, what="the job to train")
    assert cluster.pause(job_id)
    time.sleep(1.0)  # the batch in hand ends and its events come over
    held = cluster.progress(job_id)
    time.sleep(1.5)
    assert held.state == cluster.progress(job_id).state == "paused" and cluster.progress(job_id).step == held.step
    assert cluster.resume(job_id)
    _wait_for(lambda: cluster.progress(job_id).step > held.step, what="the job to train on")
    cluster.stop(job_id)
    assert cluster.wait(job_id, 30).state == "stopped"


def test_a_killed_worker_fails_the_job_and_saves_nothing(cluster):
    job_id = cluster.start(LONG)
    _wait_for(lambda: cluster.progress(job_id).step > 0, what="the job to train")
    os.kill(cluster.train.worker(job_id).pid, signal.SIGKILL)
    p = cluster.wait(job_id, 60)
    assert p.state == "failed" and "stopped unexpectedly" in p.message and "Train again" in p.message
    assert p.run_id is None and list_runs() == []


def test_an_error_on_the_worker_fails_the_job_with_its_own_message(cluster):
    too_large = RunConfig(DataConfig(limit_test=100), ModelConfig(hidden=(4096,) * 4), TrainConfig())
    p = cluster.wait(cluster.start(too_large), 60)
    assert p.state == "failed" and "the store keeps models of at most" in p.message
    assert "stopped unexpectedly" not in p.message


def test_bad_settings_are_one_error_naming_the_variable(ray_cpus, monkeypatch):
    from aecore.jobs import ray_registry

    with pytest.raises(ValueError, match="AECORE_RAY_ADDRESS must be local, auto"):
        ray_registry(address="http://head")
    for name, value in (("AECORE_RAY_CPUS", "two"), ("AECORE_RAY_CPUS", "0"), ("AECORE_RAY_CPUS", "0.0001"),
                        ("AECORE_RAY_GPUS", "-1")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValueError, match=name):
            ray_registry(address="local")
        monkeypatch.delenv(name)


def test_a_gpu_asked_of_a_cluster_without_one_trains_on_a_cpu(ray_cpus, monkeypatch):
    from aecore.jobs import ray_registry

    monkeypatch.setenv("AECORE_RAY_GPUS", "1")
    cluster = ray_registry(address="local")
    p = cluster.wait(cluster.start(SMALL), 120)  # a job asking Ray for a GPU it lacks would wait for ever
    assert p.state == "done" and p.run_id


def test_jobs_without_a_ray_address_never_import_ray(tmp_path):
    script = textwrap.dedent("""
        import sys
        from aecore import jobs
        from aecore.config import DataConfig, RunConfig, TrainConfig
        cfg = RunConfig(DataConfig(limit_train=1500, limit_test=100), train=TrainConfig(epochs=2, batch_size=64))
        p = jobs.registry().wait(jobs.start(cfg), 120)
        assert p.state == "done" and p.run_id, p.message
        print("ray" in sys.modules)
    """)
    env = {k: v for k, v in os.environ.items() if k != "AECORE_RAY_ADDRESS"} | {"AECORE_RUNS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=180, cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_job_no_machine_of_the_cluster_can_hold_fails_at_once_saying_why(ray_cpus, monkeypatch):
    from aecore.jobs import ray_registry

    monkeypatch.setenv("AECORE_RAY_CPUS", "1000")
    cluster = ray_registry(address="local")
    p = cluster.wait(cluster.start(SMALL), 60)  # not "queued, position 1" for ever
    assert p.state == "failed" and "asks the cluster for 1000 CPUs" in p.message and "largest machine has 2" in p.message


def test_a_map_runs_on_a_ray_worker_and_matches_the_same_map_made_here(ray_cpus, monkeypatch):
    import numpy as np

    from aecore import background, jobs, units, workers
    from aecore.cluster import RayBackend
    from aecore.latent import MapSettings

    monkeypatch.setenv("AECORE_RAY_ADDRESS", "local")
    runner = jobs.map_runner()
    assert isinstance(runner.__self__, RayBackend) and (runner.__self__.cpus, runner.__self__.gpus) == (1.0, 0.0)
    where = []

    def on_ray(task, ctx, **kwargs):
        return runner(task, ctx, on_start=where.append, **kwargs)

    z = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    messages = []
    work = workers.submit(units.projection, z, "umap", 2, MapSettings(), runner=on_ray)
    while not (s := background.snapshot(work)).finished:
        messages.append(s.message)
        time.sleep(0.05)
    assert s.state == "done", s.error
    assert len(where) == 1 and where[0].pid != os.getpid()  # on a Ray worker process, which said where it ran
    assert any("UMAP of 300 codes" in m for m in messages)  # its progress came back as it went
    monkeypatch.delenv("AECORE_RAY_ADDRESS")
    assert jobs.map_runner() is None  # without a cluster, maps stay in this server's pool
    here = background.wait(workers.submit(units.projection, z, "umap", 2, MapSettings()), 300)
    assert np.array_equal(s.result.points, here.result.points)  # the same seeded map, wherever it was drawn
