"""A Ray cluster of two nodes in separate processes (``ray start``), joined through ``--ray-address``.

The head and a second worker node each offer one CPU, so jobs run on both.
A small matrix run from the command line, and ``bench.evaluate`` with an
``nn.Module`` and a ``Defense`` defined in a script's ``__main__`` (shipped by
value, as from a notebook), give the local executor's per-example flags.
Clients authenticate with the cluster's token (Ray's token authentication),
which Ray reads from the environment when it is imported: hence every client
is a subprocess.  Marked slow: two Ray nodes take tens of seconds to start on
a busy 2-core machine.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.store import flags_of, results_rows

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_start(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """``ray start --block`` in a session of its own, so the whole node can be stopped by its process group."""
    ports = ["--dashboard-agent-listen-port", str(free_port()),
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
    """The cluster's address; its token (Ray's token authentication) is in this process's environment meanwhile."""
    root = tmp_path_factory.mktemp("ray")
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    saved = {k: os.environ.get(k) for k in auth}
    os.environ.update(auth)  # every client of this cluster: this process, its subprocesses, the nodes
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
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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


NOTEBOOK = """
import sys
import torch.nn.functional as F
import bench
from bench.store import flags_of, results_rows
from defenses import Defense

class Sharpen(Defense):  # defined in __main__, as in a notebook: it reaches the Ray workers by value
    def purify(self, x):
        return (2 * x - F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)).clamp(0, 1)

address, out = sys.argv[1], sys.argv[2]
model = bench.load_classifier("mnist5k", "smallcnn", "natural", device="cpu", epochs=1)  # an nn.Module in memory
kwargs = dict(defenses=["none", Sharpen()], attacks=["pgd"], n=30, device="cpu", threads=1,
              attack_params={"pgd": {"steps": 3}}, progress=False)
frames = {"local": bench.evaluate(model, results=f"{out}/local.sqlite", **kwargs),
          "ray": bench.evaluate(model, results=f"{out}/ray.sqlite", executor="ray", ray_address=address, **kwargs)}
flags = {}
for name in frames:
    rows = results_rows(f"{out}/{name}.sqlite")
    got = flags_of(f"{out}/{name}.sqlite", [r["job_key"] for r in rows])
    flags[name] = {(r["defense"], r["attack"]): tuple(f.tolist() for f in got[r["job_key"]]) for r in rows}
print(len(frames["local"]), frames["local"]["defense"].nunique(), flags["local"] == flags["ray"])
"""


def test_in_memory_objects_reach_the_cluster(cluster, tmp_path):
    """An nn.Module and a Defense defined in a script's ``__main__`` (as in a notebook) run on the cluster's workers."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PUREBENCH_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", NOTEBOOK, cluster, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["4", "2", "True"]  # none and Sharpen, clean and pgd; flags equal to the local run's
