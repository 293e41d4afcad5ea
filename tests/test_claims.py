"""Two processes on one results database split the plan: each job runs once between them, SIGKILL included.

Real subprocesses run ``run_bench.py run`` on one database and one cache.  A
job's execution is counted from each process's own tally ("N run now") and
from the ``jobs`` rows its session recorded, so a job run twice shows even
though the store keeps one row per job.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from test_resume import REPO, command, done_count, environment, job_statuses, results, run_to_the_end, written_spec

SPEC = """
name = "split"
n = 40
device = "cpu"
threads = 1
recipes = ["natural"]
defenses = ["none"]
attacks = ["pgd"]
threats = ["oblivious"]
eps = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]
[recipe_params.natural]
epochs = 1
batch_size = 256
[attack_params.pgd]
steps = 5
"""
JOBS = 1 + 7 + 8  # train, crafts, evaluations (clean included)


def ran(stdout: str) -> int:
    """The number of jobs a run executed, from its summary line."""
    match = re.search(r"\((\d+) run now\)", stdout)
    assert match, stdout[-2000:]
    return int(match.group(1))


def recorded_by(db: Path, pid: int) -> int:
    """Jobs whose outcome was recorded by the session of process ``pid``."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM jobs j JOIN sessions s ON s.id = j.session_id WHERE s.pid = ?",
                            (pid,)).fetchone()[0]
    finally:
        conn.close()


def claims_left(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return written_spec(tmp_path_factory, "claims", "split.toml", SPEC)


@pytest.fixture(scope="module")
def reference(workspace):
    """One process alone, with a cache of its own."""
    root, spec = workspace
    db = root / "alone.sqlite"
    out = run_to_the_end(spec, db, environment(root / "cache-alone"))
    assert ran(out.stdout) == JOBS
    return results(db)


def test_two_processes_run_each_job_once(workspace, reference):
    root, spec = workspace
    db, env = root / "split.sqlite", environment(root / "cache-split")
    processes = [subprocess.Popen(command(spec, db), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    counts = []
    for process in processes:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
        counts.append(ran(out))
    assert sum(counts) == JOBS, f"the two processes ran {counts[0]} + {counts[1]} jobs of a {JOBS}-job plan"
    assert sum(recorded_by(db, p.pid) for p in processes) == JOBS
    assert {status for _, status in job_statuses(db)} == {"done"} and len(job_statuses(db)) == JOBS
    assert claims_left(db) == 0
    assert results(db) == reference


def test_sigkill_of_one_of_two_loses_and_repeats_nothing(workspace, reference):
    root, spec = workspace
    db, env = root / "killed.sqlite", environment(root / "cache-killed")
    victim = subprocess.Popen(command(spec, db), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    survivor = subprocess.Popen(command(spec, db), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    try:
        deadline = time.monotonic() + 300
        while done_count(db) < 3 and victim.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert victim.poll() is None, "the run finished before it could be killed"
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=60) == -signal.SIGKILL
        out, err = survivor.communicate(timeout=600)
    finally:
        for process in (victim, survivor):
            if process.poll() is None:
                process.kill()
    assert survivor.returncode == 0, err[-2000:]
    assert recorded_by(db, victim.pid) + ran(out) == JOBS  # the survivor redid none of the victim's recorded jobs
    assert {status for _, status in job_statuses(db)} == {"done"} and len(job_statuses(db)) == JOBS
    assert claims_left(db) == 0
    assert results(db) == reference
