"""The Ray executor on a local Ray instance gives the local executor's per-example flags, job for job."""

from __future__ import annotations

import pytest
import torch

from bench.run import RunOptions, run_spec
from bench.spec import parse_spec
from bench.store import flags_of, job_rows

ray = pytest.importorskip("ray")


def test_ray_executor_matches_local(tmp_path, monkeypatch, mnist, small_matrix):
    spec = parse_spec(small_matrix)
    threads = torch.get_num_threads()
    monkeypatch.setenv("PUREBENCH_CACHE", str(tmp_path / "cache-local"))
    local = run_spec(spec, RunOptions(results=tmp_path / "local.sqlite", progress=False), {"mnist5k": mnist})
    assert torch.get_num_threads() == threads  # the spec's thread count applied to the run only
    monkeypatch.setenv("PUREBENCH_CACHE", str(tmp_path / "cache-ray"))  # the Ray run trains and fits on its own
    remote = run_spec(spec, RunOptions(results=tmp_path / "ray.sqlite", executor="ray", progress=False), {"mnist5k": mnist})
    assert local.ok and remote.ok and not ray.is_initialized()
    assert {r["kind"] for r in job_rows(remote.path)} == {"train", "fit", "craft", "evaluate"}
    keys = [k for k, job in local.plan.jobs.items() if job.kind.value == "evaluate"]
    assert list(remote.plan.jobs) == list(local.plan.jobs) and len(keys) == 6
    local_flags, remote_flags = flags_of(local.path, keys), flags_of(remote.path, keys)
    for key in keys:
        assert (local_flags[key][0] == remote_flags[key][0]).all() and (local_flags[key][1] == remote_flags[key][1]).all()
