"""The parallel local executor: results identical to one worker, in-memory objects shipped, a dead worker one failed job."""

from __future__ import annotations

import os
import signal

import torch
import torch.nn.functional as F

import bench
from bench.run import RunOptions, run_spec
from bench.spec import parse_spec
from bench.store import flags_of, job_rows
from defenses import Defense


class Blur(Defense):
    """A 3x3 mean filter, defined here and registered nowhere."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class DiesInFit(Defense):
    """Kills the process that fits it, as the out-of-memory killer would."""

    def fit(self, ctx) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _flags(summary) -> dict[str, tuple]:
    keys = [k for k, job in summary.plan.jobs.items() if job.kind.value == "evaluate"]
    return {k: tuple(f.tolist() for f in v) for k, v in flags_of(summary.path, keys).items()}


def test_two_workers_give_one_workers_flags(tmp_path, monkeypatch, mnist, small_matrix):
    spec = parse_spec(small_matrix)
    monkeypatch.setenv("PUREBENCH_CACHE", str(tmp_path / "cache-1"))
    one = run_spec(spec, RunOptions(results=tmp_path / "one.sqlite", progress=False, workers=1), {"mnist5k": mnist})
    monkeypatch.setenv("PUREBENCH_CACHE", str(tmp_path / "cache-2"))  # the parallel run trains and fits on its own
    two = run_spec(spec, RunOptions(results=tmp_path / "two.sqlite", progress=False, workers=2), {"mnist5k": mnist})
    assert one.ok and two.ok
    assert {r["kind"] for r in job_rows(two.path)} == {"train", "fit", "craft", "evaluate"}
    flags = _flags(one)
    assert len(flags) == 6 and flags == _flags(two)


def test_in_memory_objects_reach_the_workers(tmp_path, natural_cnn):
    frames = [bench.evaluate(natural_cnn, defenses=["none", Blur()], attacks=["pgd"], n=30, device="cpu", threads=1,
                             attack_params={"pgd": {"steps": 3}}, results=tmp_path / f"w{workers}.sqlite", progress=False,
                             workers=workers)
              for workers in (1, 2)]
    columns = ["defense", "attack", "accuracy"]
    assert len(frames[0]) == 4  # none and Blur, clean and pgd
    assert frames[0][columns].equals(frames[1][columns])


def test_a_worker_that_dies_fails_its_job_and_the_run_goes_on(tmp_path, natural_cnn):
    db = tmp_path / "dies.sqlite"
    try:
        bench.evaluate(natural_cnn, defenses=["none", DiesInFit()], attacks=["pgd"], n=20, device="cpu", threads=1,
                       attack_params={"pgd": {"steps": 2}}, results=db, progress=False, workers=2)
    except bench.evaluation.EvaluationFailed as exc:
        assert "DiesInFit" in str(exc) and "WorkerDied" in str(exc)
    else:
        raise AssertionError("the fit that kills its worker did not fail")
    rows = job_rows(db)
    failed = [r for r in rows if r["status"] == "failed"]
    assert [(r["kind"], "DiesInFit" in r["label"], r["error"].startswith("WorkerDied")) for r in failed] == [("fit", True, True)]
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert len(skipped) == 2 and all("DiesInFit" in r["label"] for r in skipped)  # its clean and pgd evaluations
    done = [r for r in rows if r["status"] == "done"]
    assert len(done) == len(rows) - 3 and any(r["kind"] == "evaluate" for r in done)  # the replacement worker went on
