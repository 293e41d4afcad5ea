"""Output paths and foreign files: a folder, an unwritable place or another program's database is one UserError."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.jobs import (ClassifierRef, EvalResult, EvaluateTask, Job, JobKind, Outcome, ResultLabels, StageRef, Status)
from bench.store import Store

REF = ClassifierRef("mnist5k", "smallcnn", "natural", "natural", {}, 0, "ckey")
RUN_FLAGS = ["--attack", "pgd", "--n", "2", "--device", "cpu"]


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def results_db(tmp_path) -> Path:
    """A results database with one result, written by the store as a run would."""
    path = tmp_path / "db" / "run.sqlite"
    store = Store(path)
    store.register_run(name="t", spec_digest="d1", spec_json="{}", spec_text="", seed=0, n=2, device="cpu")
    store.start_session(executor="local", device="cpu", argv=["run"], versions={}, code_revision=None)
    labels = ResultLabels(dataset="mnist5k", arch="smallcnn", recipe="natural", seed=0, defense="none", attack="clean",
                          attack_base="clean", threat="oblivious", threat_model="oblivious", eps=0.0, lam=None, source=None,
                          source_kind=None, source_classifier=None, n=2)
    job = Job("e1", JobKind.EVALUATE, "evaluate clean", (), EvaluateTask(REF, (StageRef("none", "none", {}, "s", False, "s"),),
                                                                      None, labels, 0, 100))
    store.record_plan([job])
    flags = np.array([True, False])
    store.record(job, Outcome("e1", Status.DONE, 1.0, "t0", "t1", "cpu", result=EvalResult(flags, flags, 0.1)))
    store.finish_session("complete")
    store.close()
    return path


def _one_line_exit_2(argv: list[str], capsys, fragment: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and fragment in err, err


def _a_file(workdir: Path) -> Path:
    blocker = workdir / "plain-file"
    blocker.write_text("x")
    return blocker


@pytest.mark.parametrize("target", ["a folder", "under a file"])
def test_export_to_an_unusable_path_exits_2(workdir, results_db, capsys, target) -> None:
    out = workdir if target == "a folder" else _a_file(workdir) / "out.csv"
    before = sorted(p.name for p in workdir.rglob("*"))
    _one_line_exit_2(["export", str(results_db), "--format", "csv", "-o", str(out)], capsys, str(out if target == "a folder" else out.parent))
    assert sorted(p.name for p in workdir.rglob("*")) == before


def test_report_into_a_folder_under_a_file_exits_2(workdir, results_db, capsys) -> None:
    out = _a_file(workdir) / "report"
    _one_line_exit_2(["report", str(results_db), "-o", str(out)], capsys, str(out))


@pytest.mark.parametrize("target", ["a folder", "under a file"])
def test_results_at_an_unusable_path_exits_2_and_writes_nothing(workdir, capsys, target) -> None:
    out = workdir / "somedir" if target == "a folder" else _a_file(workdir) / "r.sqlite"
    if target == "a folder":
        out.mkdir()
    before = sorted(p.name for p in workdir.rglob("*"))
    _one_line_exit_2(["run", *RUN_FLAGS, "--results", str(out)], capsys, str(out if target == "a folder" else out.parent))
    assert sorted(p.name for p in workdir.rglob("*")) == before


@pytest.mark.skipif(hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0, reason="root may write anywhere")
def test_export_into_a_read_only_folder_exits_2(workdir, results_db, capsys) -> None:
    locked = workdir / "locked"
    locked.mkdir(mode=0o500)
    _one_line_exit_2(["export", str(results_db), "--format", "csv", "-o", str(locked / "out.csv")], capsys, "locked")


def _foreign_database(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE run (id INTEGER PRIMARY KEY, what TEXT)")
    conn.execute("INSERT INTO run VALUES (1, 'theirs')")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("command", [["export", "--format", "csv"], ["report"]])
def test_another_programs_database_is_not_read(workdir, capsys, command) -> None:
    db = _foreign_database(workdir / "theirs.sqlite")
    _one_line_exit_2([command[0], str(db), *command[1:]], capsys, "not a purebench results database")


def test_another_programs_database_is_not_written(workdir, capsys) -> None:
    db = _foreign_database(workdir / "theirs.sqlite")
    before = db.read_bytes()
    _one_line_exit_2(["run", *RUN_FLAGS, "--results", str(db)], capsys, "not a purebench results database")
    assert db.read_bytes() == before
    tables = {r[0] for r in sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"run"}


def test_random_bytes_as_results_is_not_a_database(workdir, capsys) -> None:
    junk = workdir / "junk.sqlite"
    junk.write_bytes(bytes(range(256)) * 8)
    _one_line_exit_2(["export", str(junk), "--format", "csv"], capsys, "not a purebench results database")


def test_export_and_report_read_only_and_leave_no_wal_or_shm_files(workdir, results_db, capsys) -> None:
    before = results_db.read_bytes()
    assert main(["export", str(results_db), "--format", "csv"]) == 0
    assert main(["report", str(results_db), "-o", str(workdir / "report")]) == 0
    assert sorted(p.name for p in results_db.parent.iterdir()) == ["run.sqlite"]
    assert results_db.read_bytes() == before
