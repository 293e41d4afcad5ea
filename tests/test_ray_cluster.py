"""A Ray cluster of two nodes in separate processes (``ray start``), joined through ``--ray-address``.

The head and a second worker node each offer one CPU, so jobs run on both.
A small matrix run from the command line, and ``bench.evaluate`` with an
``nn.Module`` and a ``Defense`` defined here (shipped by value, as from a
notebook), give the local executor's per-example flags.  Marked slow: two Ray
nodes take tens of seconds to start on a busy 2-core machine.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import bench
from bench.store import flags_of, results_rows
from defenses import Defense

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SPEC = """
n = 30
device = "cpu"
threads = 1
recipes = ["natural"]
defenses = ["none", "aid"]
attacks = ["pgd"]
threats = ["oblivious"]
[recipe_params.natural]
epochs = 1
batch_size = 256
[defense_params.aid]
epochs = 1
train_steps = 2
width = 64
batch_size = 256
steps = 3
[attack_params.pgd]
steps = 3
"""
START_SECONDS = 180


class Sharpen(Defense):
    """Defined in this test module, registered nowhere: it reaches the Ray workers by value."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return (2 * x - F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)).clamp(0, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_start(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """``ray start --block`` in a session of its own, so the whole node can be stopped by its process group."""
    ports = ["--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
             "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port())]
    return subprocess.Popen(["ray", "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *ports, *args],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
            time.sleep(1)  # the node's own children leave after ray start
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0"}
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = [ray_start("--head", "--port", str(port), "--node-ip-address", "127.0.0.1", "--include-dashboard", "false",
                       "--temp-dir", str(root / "t"), env=env)]
    try:
        _wait_for_cpus(address, 1)
        nodes.append(ray_start("--address", address, "--node-ip-address", "127.0.0.1", env=env))
        _wait_for_cpus(address, 2)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(nodes):
            stop(node)


def _wait_for_cpus(address: str, cpus: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-c", f"import ray; ray.init(address={address!r}, log_to_driver=False); "
                              "print(int(ray.cluster_resources().get('CPU', 0)))"],
                             capture_output=True, text=True, timeout=START_SECONDS)
        if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(cpus)]:
            return
        time.sleep(2)
    raise AssertionError(f"the Ray cluster at {address} did not reach {cpus} CPUs in {START_SECONDS} s")


def _flags(db: Path) -> dict[tuple, tuple]:
    rows = results_rows(db)
    flags = flags_of(db, [r["job_key"] for r in rows])
    return {(r["defense"], r["attack"]): tuple(f.tolist() for f in flags[r["job_key"]]) for r in rows}


def test_a_matrix_through_ray_address_matches_local(cluster, tmp_path):
    spec = tmp_path / "cluster.toml"
    spec.write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = {"local": [], "ray": ["--executor", "ray", "--ray-address", cluster]}
    for name, flags in runs.items():
        env["PUREBENCH_CACHE"] = str(tmp_path / f"cache-{name}")  # the cluster trains and fits on its own
        out = subprocess.run([sys.executable, "run_bench.py", "run", str(spec), "--results", str(tmp_path / f"{name}.sqlite"),
                              *flags], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
    local, remote = _flags(tmp_path / "local.sqlite"), _flags(tmp_path / "ray.sqlite")
    assert len(local) == 4 and local == remote


def test_in_memory_objects_reach_the_cluster(cluster, tmp_path, monkeypatch, natural_cnn):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # as a notebook's classes travel
    kwargs = dict(defenses=["none", Sharpen()], attacks=["pgd"], n=30, device="cpu", threads=1,
                  attack_params={"pgd": {"steps": 3}}, progress=False)
    local = bench.evaluate(natural_cnn, results=tmp_path / "local.sqlite", **kwargs)
    monkeypatch.setenv("PUREBENCH_CACHE", str(tmp_path / "cache-ray"))  # nothing crafted locally is reused
    remote = bench.evaluate(natural_cnn, results=tmp_path / "ray.sqlite", executor="ray", ray_address=cluster, **kwargs)
    assert len(local) == 4 and local[["defense", "attack", "accuracy"]].equals(remote[["defense", "attack", "accuracy"]])
    assert _flags(tmp_path / "local.sqlite") == _flags(tmp_path / "ray.sqlite")
