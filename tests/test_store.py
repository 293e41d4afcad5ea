"""The results store: round trip, one transaction per job, no duplicates, export formats, refusal of another spec."""

from __future__ import annotations

import io
import json
import sqlite3
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from bench.export import EXPORT_COLUMNS, FORMATS, READER_COLUMNS, export, results_frame
from bench.jobs import (ClassifierRef, EvalResult, EvaluateTask, Job, JobKind, Outcome, ResultLabels, StageRef, Status,
                        TrainTask)
from bench.store import SCHEMA, SpecMismatchError, Store, check_resumable, flags_of, job_rows, pack_flags, run_info, unpack_flags

REF = ClassifierRef("mnist5k", "smallcnn", "natural", "natural", {}, 0, "ckey")


def labels(attack: str, eps: float, n: int = 5, lam: float | None = None) -> ResultLabels:
    return ResultLabels(dataset="mnist5k", arch="smallcnn", recipe="natural", seed=0, defense="none", attack=attack,
                        attack_base=attack, threat="oblivious", threat_model="oblivious", eps=eps, lam=lam, source=None,
                        source_kind=None, source_classifier=None, n=n)


def eval_job(key: str, attack: str = "clean", eps: float = 0.0) -> Job:
    stack = (StageRef("none", "none", {}, "skey", False, "skey"),)
    return Job(key, JobKind.EVALUATE, f"evaluate {attack}", ("train-ckey",),
               EvaluateTask(REF, stack, None, labels(attack, eps), 0, 100))


def outcome(key: str, correct: list[bool], status: Status = Status.DONE, error: str | None = None) -> Outcome:
    flags = np.array(correct)
    result = EvalResult(flags, np.ones_like(flags), 0.5) if status is Status.DONE else None
    return Outcome(key, status, 1.5, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", "cpu", error=error,
                   result=result)


@pytest.fixture()
def store(tmp_path):
    s = Store(tmp_path / "run.sqlite")
    s.register_run(name="t", spec_digest="d1", spec_json="{}", spec_text="", seed=0, n=5, device="cpu")
    s.start_session(executor="local", device="cpu", argv=["run"], versions={"torch": "x"}, code_revision=None)
    yield s
    s.close()


@pytest.mark.parametrize("n", [1, 7, 8, 9, 200])
def test_flags_pack_round_trip(n):
    flags = np.random.default_rng(n).random(n) < 0.5
    blob = pack_flags(flags)
    assert len(blob) == (n + 7) // 8 and (unpack_flags(blob, n) == flags).all()


def test_round_trip_and_no_duplicates(store):
    jobs = [eval_job("e1"), eval_job("e2", "pgd", 0.3)]
    store.record_plan(jobs)
    store.record(jobs[0], outcome("e1", [True, True, False, True, True]))
    store.record(jobs[1], outcome("e2", [False, True, False, False, True]))
    store.record(jobs[1], outcome("e2", [True, True, True, True, True]))  # a second writer of the same job: ignored
    frame = results_frame(store.path)
    assert len(frame) == 2 and list(frame.columns[: len(EXPORT_COLUMNS)]) == list(EXPORT_COLUMNS)
    assert frame["accuracy"].tolist() == [80.0, 40.0]  # percent, as on every surface
    assert frame["attack"].tolist() == ["clean", "pgd"] and frame["seconds"].tolist() == [1.5, 1.5]
    correct, undefended = flags_of(store.path, ["e2"])["e2"]
    assert correct.tolist() == [False, True, False, False, True] and undefended.all()
    assert {r["status"] for r in job_rows(store.path)} == {"done"}
    assert run_info(store.path)["sessions"][0]["executor"] == "local"


def test_the_plan_stores_each_evaluate_jobs_labels(store):
    train = Job("train-ckey", JobKind.TRAIN, "train", (), TrainTask(REF))
    store.record_plan([train, eval_job("e1", "pgd", 0.3)])
    rows = {r["key"]: r["labels_json"] for r in job_rows(store.path)}
    assert rows["train-ckey"] is None and json.loads(rows["e1"]) == asdict(labels("pgd", 0.3))


def test_a_database_from_before_the_labels_column_gains_it(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA.replace(",\n    labels_json TEXT", "").replace(",\n    overrides_json TEXT", ""))
        conn.execute("INSERT INTO run VALUES (1, 'old', 'd1', '{}', '', 0, 5, 'cpu', 'then', 1)")
        conn.execute("INSERT INTO plan_jobs VALUES ('e1', 0, 'evaluate', 'evaluate pgd', '[]')")
    assert [r["labels_json"] for r in job_rows(path)] == [None]  # read as it is: its missing cells have no labels
    store = Store(path)
    store.record_plan([eval_job("e1", "pgd", 0.3)])
    store.close()
    assert json.loads(job_rows(path)[0]["labels_json"])["attack"] == "pgd"
    assert run_info(path)["overrides_json"] is None  # the run gains the overrides column, empty: none were recorded


def test_failed_job_is_retried_but_done_is_final(store):
    job = eval_job("e1")
    store.record_plan([job, eval_job("e3")])
    store.record(job, outcome("e1", [], Status.FAILED, error="RuntimeError: boom"))
    rows = {r["key"]: r for r in job_rows(store.path)}
    assert rows["e1"]["status"] == "failed" and "boom" in rows["e1"]["error"] and rows["e3"]["status"] == "pending"
    assert not store.is_done("e1") and results_frame(store.path).empty
    store.record(job, outcome("e1", [True] * 5))
    store.record(job, outcome("e1", [], Status.FAILED, error="late failure"))  # never overwrites done
    assert store.is_done("e1") and results_frame(store.path)["accuracy"].tolist() == [100.0]


def test_a_crash_inside_the_transaction_leaves_nothing(store, monkeypatch):
    job = eval_job("e1")
    store.record_plan([job])
    monkeypatch.setattr("bench.store.pack_flags", lambda flags: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError):
        store.record(job, outcome("e1", [True] * 5))
    conn = sqlite3.connect(store.path)
    assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 0


def test_results_outside_the_current_plan_are_not_exported(store):
    store.record_plan([eval_job("old")])
    store.record(eval_job("old"), outcome("old", [True] * 5))
    store.record_plan([eval_job("new")])
    assert results_frame(store.path).empty


def test_another_spec_is_refused(store):
    check_resumable(store.path, "d1")
    with pytest.raises(SpecMismatchError, match="different spec"):
        check_resumable(store.path, "d2")
    with pytest.raises(SpecMismatchError):
        store.register_run(name="t", spec_digest="d2", spec_json="{}", spec_text="", seed=0, n=5, device="cpu")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_export_formats(store, fmt):
    jobs = [eval_job("e1"), eval_job("e2", "pgd", 0.3)]
    store.record_plan(jobs + [Job("train-ckey", JobKind.TRAIN, "train", (), TrainTask(REF))])
    for job, flags in zip(jobs, ([True] * 5, [False] * 4 + [True])):
        store.record(job, outcome(job.key, flags))
    text = export(store.path, fmt)
    if fmt == "csv":
        frame = pd.read_csv(io.StringIO(text))
        assert list(frame.columns) == list(READER_COLUMNS) and "job_key" not in frame
        assert list(frame.columns[: len(EXPORT_COLUMNS)]) == list(EXPORT_COLUMNS) and frame["accuracy"].tolist() == [100.0, 20.0]
    elif fmt == "json":
        rows = json.loads(text)
        assert [r["accuracy"] for r in rows] == [100.0, 20.0] and rows[0]["lam"] is None
    elif fmt == "markdown":
        lines = text.splitlines()
        assert lines[0].startswith("| dataset | arch | recipe | defense | attack |") and len(lines) == 4
    else:
        assert "\\begin{tabular}" in text and "pgd" in text


def test_a_database_from_before_the_perturbation_column_is_resumed(tmp_path):
    path = tmp_path / "old.sqlite"
    s = Store(path)
    s.register_run(name="t", spec_digest="d1", spec_json="{}", spec_text="", seed=0, n=5, device="cpu")
    s.close()
    with sqlite3.connect(path) as conn:  # the results table as the first schema wrote it
        conn.execute("ALTER TABLE results DROP COLUMN max_perturbation")
    s = Store(path)
    s.start_session(executor="local", device="cpu", argv=["run"], versions={}, code_revision=None)
    job = eval_job("e1", "pgd", 0.3)
    s.record_plan([job])
    flags = np.array([True, False, True, True, False])
    s.record(job, Outcome("e1", Status.DONE, 1.0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", "cpu", result=EvalResult(flags, flags, 0.1, max_perturbation=0.25)))
    s.close()
    assert results_frame(path)["accuracy"].tolist() == [60.0]
    assert pd.read_csv(io.StringIO(export(path, "csv")))["max_perturbation"].tolist() == [0.25]
