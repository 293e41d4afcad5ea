"""Crash safety: SIGKILL mid-run then rerun equals an uninterrupted run; two writers never corrupt a database.

Real subprocesses run ``run_bench.py run``; the killed one dies by SIGKILL
after some jobs are committed, while others are still to come, with one
worker and with two (whose worker processes must not outlive their driver).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SPEC = """
name = "resume"
n = 40
device = "cpu"
recipes = ["natural"]
defenses = ["none"]
attacks = ["pgd", "mim"]
threats = ["oblivious"]
eps = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
[recipe_params.natural]
epochs = 1
batch_size = 256
[attack_params.pgd]
steps = 5
[attack_params.mim]
steps = 5
"""
JOBS = 1 + 12 + 13  # train, crafts, evaluations (clean included)


def command(spec: Path, db: Path, workers: int = 1) -> list[str]:
    return [sys.executable, "run_bench.py", "run", str(spec), "--results", str(db), "--workers", str(workers)]


def children(pid: int) -> set[int]:
    try:
        return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def environment(cache: Path) -> dict[str, str]:
    return {**os.environ, "PUREBENCH_CACHE": str(cache), "PUREBENCH_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(REPO)}


def run_to_the_end(spec: Path, db: Path, env: dict[str, str], workers: int = 1) -> subprocess.CompletedProcess:
    """One ``run_bench.py run`` of ``spec`` into ``db`` that is not interrupted; it must succeed."""
    out = subprocess.run(command(spec, db, workers), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def written_spec(tmp_path_factory: pytest.TempPathFactory, folder: str, name: str, text: str) -> tuple[Path, Path]:
    """A fresh folder holding the spec file ``name`` with ``text``: (the folder, the spec)."""
    root = tmp_path_factory.mktemp(folder)
    spec = root / name
    spec.write_text(text)
    return root, spec


def done_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def results(db: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT r.attack, r.eps, r.defense, r.accuracy, r.accuracy_undefended, f.correct, f.correct_undefended "
                            "FROM results r JOIN flags f ON f.job_key = r.job_key").fetchall()
        return {f"{a}@{e}/{d}": rest for a, e, d, *rest in rows}
    finally:
        conn.close()


def job_statuses(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT key, status FROM jobs ORDER BY key").fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return written_spec(tmp_path_factory, "resume", "resume.toml", SPEC)


@pytest.fixture(scope="module")
def reference(workspace):
    """An uninterrupted run, with a cache of its own."""
    root, spec = workspace
    db = root / "reference.sqlite"
    run_to_the_end(spec, db, environment(root / "cache-reference"))
    assert len(job_statuses(db)) == JOBS
    return results(db)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_then_rerun_equals_an_uninterrupted_run(workspace, reference, workers):
    root, spec = workspace
    db, env = root / f"killed-{workers}.sqlite", environment(root / f"cache-killed-{workers}")
    process = subprocess.Popen(command(spec, db, workers), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while done_count(db) < 4 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the run finished before it could be killed"
        pool = children(process.pid)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    assert len(pool) >= (workers if workers > 1 else 0)  # the worker processes (one worker runs in the driver)
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in pool) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pool), "worker processes outlived their killed driver"
    committed = done_count(db)
    assert 4 <= committed < JOBS
    first = dict(job_statuses(db))

    out = run_to_the_end(spec, db, env, workers)
    assert f"({JOBS - committed} run now)" in out.stdout  # no job done twice
    statuses = dict(job_statuses(db))
    assert len(statuses) == JOBS and set(statuses.values()) == {"done"}
    assert all(statuses[k] == "done" for k in first)
    assert results(db) == reference  # no result lost, duplicated or changed


def test_two_concurrent_writers_share_one_database(workspace, reference):
    root, spec = workspace
    db, env = root / "shared.sqlite", environment(root / "cache-shared")
    processes = [subprocess.Popen(command(spec, db), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    statuses = job_statuses(db)
    assert len(statuses) == JOBS and {s for _, s in statuses} == {"done"}
    assert results(db) == reference
