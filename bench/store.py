"""The results store: one SQLite database per run (stdlib ``sqlite3``, WAL).

Tables:

- ``run``: one row; the spec (its TOML text and resolved form), its digest,
  name, seed, n, device, creation date and the command line's overrides of
  the spec file (``overrides_json``: spec key -> value as given).  A database is never resumed by a
  different spec (AutoAttack's ``EvaluationState`` rule).
- ``sessions``: each invocation: dates, pid, host, executor, device, argv,
  library versions, code revision, how it ended.
- ``plan_jobs``: the jobs of the current plan (what a complete run contains;
  a partial run's report can say what is missing), each evaluate job with the
  labels its result will carry (``labels_json``, the ``ResultLabels`` fields),
  so a missing cell is placed in its table from stored columns.
- ``jobs``: every finished job: status (done, failed, skipped), error,
  seconds, dates, device, details (JSON).
- ``results``: one row per evaluate job; ``flags``: its per-example correct
  flags after the defense (on every draw) and without it, bit-packed.
- ``draws``: for a randomized stack evaluated over several draws, the flags
  of each draw (draws x n, bit-packed) and their mean accuracy.
- ``audit``: one row per check of each audit job (``bench.auditing``): verdict,
  value, threshold, evidence; the per-stack ``overall`` row is derived from
  these and the results when read (``bench.auditing.frame``).
- ``claims``: the jobs a live session is running (``bench.claims``): job key,
  host, pid and its start time, session, claim date, heartbeat.

A job's outcome is written in one transaction (job row, result row, flags,
release of its claim), so a crash leaves either all of it or none.  Processes
running the same matrix into one database claim each job before running it,
so they split the work; should two still run one job (a claim taken over from
a holder wrongly thought dead), primary keys make the second write a no-op
and a ``done`` job is never overwritten: every job appears once.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote

import numpy as np

from bench.atomic import check_writable_file
from bench.claims import CLAIMS_TABLE, Claim, Heartbeat, Settled, settle, take
from bench.errors import UserError
from bench.jobs import AuditTask, EvaluateTask, Job, Outcome, Status
from bench.processes import ProcessId
from bench.timestamps import now

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL, spec_digest TEXT NOT NULL, spec_json TEXT NOT NULL, spec_text TEXT NOT NULL,
    seed INTEGER NOT NULL, n INTEGER, device TEXT NOT NULL, created TEXT NOT NULL, schema_version INTEGER NOT NULL,
    overrides_json TEXT);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT NOT NULL, finished TEXT, pid INTEGER, host TEXT,
    executor TEXT, device TEXT, argv TEXT, versions_json TEXT, code_revision TEXT, outcome TEXT);
CREATE TABLE IF NOT EXISTS plan_jobs (
    key TEXT PRIMARY KEY, position INTEGER NOT NULL, kind TEXT NOT NULL, label TEXT NOT NULL, deps_json TEXT NOT NULL,
    labels_json TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'skipped')), error TEXT,
    seconds REAL, started TEXT, finished TEXT, device TEXT, session_id INTEGER, details_json TEXT);
CREATE TABLE IF NOT EXISTS results (
    job_key TEXT PRIMARY KEY REFERENCES jobs(key),
    dataset TEXT NOT NULL, arch TEXT NOT NULL, recipe TEXT NOT NULL, seed INTEGER NOT NULL, defense TEXT NOT NULL,
    attack TEXT NOT NULL, attack_base TEXT NOT NULL, threat TEXT NOT NULL, threat_model TEXT NOT NULL,
    eps REAL NOT NULL, lam REAL, source TEXT, source_kind TEXT, source_classifier TEXT, n INTEGER NOT NULL,
    accuracy REAL NOT NULL, accuracy_undefended REAL NOT NULL, seconds REAL NOT NULL,
    purify_seconds_per_image REAL NOT NULL, eval_batch_size INTEGER NOT NULL, device TEXT,
    classifier_key TEXT NOT NULL, stack_json TEXT NOT NULL, advset_key TEXT, attack_params_json TEXT,
    threat_params_json TEXT, finished TEXT, max_perturbation REAL);
CREATE TABLE IF NOT EXISTS flags (
    job_key TEXT PRIMARY KEY REFERENCES results(job_key), n INTEGER NOT NULL,
    correct BLOB NOT NULL, correct_undefended BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS draws (
    job_key TEXT PRIMARY KEY REFERENCES results(job_key), draws INTEGER NOT NULL, n INTEGER NOT NULL,
    accuracy_mean REAL NOT NULL, correct BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    job_key TEXT NOT NULL REFERENCES jobs(key), part TEXT NOT NULL, dataset TEXT NOT NULL, arch TEXT NOT NULL,
    recipe TEXT NOT NULL, seed INTEGER NOT NULL, defense TEXT NOT NULL, n INTEGER NOT NULL, classifier_key TEXT NOT NULL,
    "check" TEXT NOT NULL, verdict TEXT NOT NULL, value REAL, threshold REAL, evidence TEXT NOT NULL,
    PRIMARY KEY (job_key, "check"));
""" + CLAIMS_TABLE


TABLES = ("run", "sessions", "plan_jobs", "jobs", "results", "flags")
RUN_COLUMNS = ("name", "spec_digest", "spec_json", "spec_text", "seed", "n", "device", "created", "schema_version")


class SpecMismatchError(UserError):
    """A results database created by another spec."""


def pack_flags(flags: np.ndarray) -> bytes:
    return np.packbits(np.asarray(flags, dtype=bool)).tobytes()


def unpack_flags(blob: bytes, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(blob, dtype=np.uint8), count=n).astype(bool)


def _labels_json(job: Job) -> str | None:
    """The result labels an evaluate job will store (None for the other kinds)."""
    return json.dumps(asdict(job.task.labels)) if isinstance(job.task, EvaluateTask) else None


def _has_column(conn: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.execute(f"PRAGMA table_info({table})"))


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    target, uri = (f"file:{quote(str(path.resolve()))}?mode=ro", True) if readonly else (str(path), False)
    conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, uri=uri)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.row_factory = sqlite3.Row
    return conn


def read_run(path: Path) -> dict[str, Any] | None:
    """The ``run`` row of an existing database (None if there is none yet); never creates or writes anything.

    A file that is not a database, or a database of another program (even one
    with a table named ``run``), is a ``UserError``: it is neither read nor written.
    """
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    not_ours = f"{path} is not a purebench results database; pass another --results path (or the .sqlite a run wrote)"
    try:
        conn = _connect(path, readonly=True)
    except sqlite3.Error as exc:
        raise UserError(f"{not_ours} ({exc})") from None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        missing = set(TABLES) - tables
        if missing:
            raise UserError(f"{not_ours} (it has no table {', '.join(sorted(missing))})")
        row = conn.execute("SELECT * FROM run WHERE id = 1").fetchone()
        if row is not None and set(RUN_COLUMNS) - set(row.keys()):
            raise UserError(f"{not_ours} (its run table lacks {', '.join(sorted(set(RUN_COLUMNS) - set(row.keys())))})")
        return dict(row) if row else None
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{not_ours} ({exc})") from None
    finally:
        conn.close()


def check_resumable(path: Path, spec_digest: str, spec_json: str | None = None) -> None:
    """Refuse a database made by another spec, before anything is written; with ``spec_json``, say what differs."""
    run = read_run(path)
    if run is not None and run["spec_digest"] != spec_digest:
        changed = _changed_keys(run["spec_json"], spec_json) if spec_json is not None else []
        what = f" (what differs: {', '.join(changed)})" if changed else ""
        raise SpecMismatchError(
            f"{path} holds run {run['name']!r} of a different spec (digest {run['spec_digest'][:12]}, this spec "
            f"{spec_digest[:12]}){what}; resuming it would mix matrices. Use --name or --results for a new database, "
            "or delete it")


def _changed_keys(stored_json: str, new_json: str) -> list[str]:
    """Top-level keys of two spec identities that differ; for ``data``, the datasets whose files changed."""
    try:
        stored, new = json.loads(stored_json), json.loads(new_json)
    except ValueError:
        return []
    if not isinstance(stored, dict) or not isinstance(new, dict):
        return []
    changed = []
    for key in sorted(stored.keys() | new.keys()):
        if stored.get(key) == new.get(key):
            continue
        old_data, new_data = stored.get(key), new.get(key)
        if key == "data" and isinstance(old_data, dict) and isinstance(new_data, dict):
            changed += [f"the contents of {name}" for name in sorted(old_data.keys() & new_data.keys())
                        if old_data[name] != new_data[name]]
            changed += [f"the contents of {name} (not recorded before)" for name in sorted(new_data.keys() - old_data.keys())]
        else:
            changed.append(key)
    return changed


def set_aside(path: Path) -> Path | None:
    """Move the database at ``path`` (and its -wal/-shm) to ``NAME-<its spec digest>.sqlite`` beside it; returns where.

    Nothing is moved (None) when there is no run there.  An existing file of the target name is never overwritten.
    """
    run = read_run(path)
    if run is None:
        return None
    target = path.with_name(f"{path.stem}-{run['spec_digest'][:12]}{path.suffix}")
    if target.exists():
        raise UserError(f"{path} holds an older run and {target} exists already; move or delete one of them")
    conn = _connect(path)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")  # folds a -wal into the file, so one rename moves the whole run
    finally:
        conn.close()
    os.replace(path, target)
    return target


def done_keys(path: Path) -> set[str]:
    """Keys of the jobs done in an existing database (empty when there is none); read-only."""
    if read_run(path) is None:
        return set()
    conn = _connect(Path(path), readonly=True)
    try:
        return {r[0] for r in conn.execute("SELECT key FROM jobs WHERE status = 'done'")}
    finally:
        conn.close()


# Result columns added after schema version 1 was first written: a database from before gets them (empty) when a
# run opens it for writing, so resuming an old run keeps working.
ADDED_RESULT_COLUMNS = {"max_perturbation": "REAL"}


def _add_missing_columns(c: sqlite3.Connection) -> None:
    for column, kind in ADDED_RESULT_COLUMNS.items():
        if not _has_column(c, "results", column):
            c.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")


class Store:
    """A run's database, open for writing."""

    def __init__(self, path: Path | str) -> None:
        self.path = check_writable_file(path)
        read_run(self.path)  # refuses a file that is not a results database before anything is written to it
        try:
            self.conn = _connect(self.path)
            self.conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            raise UserError(f"cannot write the results database {self.path} ({exc}); pass --results a writable path") from None
        self.conn.execute("PRAGMA synchronous = NORMAL")
        with self.transaction() as c:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    c.execute(statement)
            if not _has_column(c, "run", "overrides_json"):  # a database from before the column: no overrides recorded
                c.execute("ALTER TABLE run ADD COLUMN overrides_json TEXT")
            if not _has_column(c, "plan_jobs", "labels_json"):  # a database from before the column: record_plan fills it
                c.execute("ALTER TABLE plan_jobs ADD COLUMN labels_json TEXT")
            _add_missing_columns(c)
        self.session_id: int | None = None
        self.process = ProcessId.current()
        self.heartbeat: Heartbeat | None = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` .. ``COMMIT``: the writer lock is taken up front, so no write is lost to a race."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close; the last writer out turns WAL off again, so that read-only readers leave no -wal/-shm files behind."""
        self._stop_heartbeat()
        try:
            self.conn.execute("PRAGMA busy_timeout = 0")
            self.conn.execute("PRAGMA journal_mode = DELETE")
        except sqlite3.OperationalError:
            pass  # another process still has the database open; the last one to close turns WAL off
        self.conn.close()

    # -- run and sessions ------------------------------------------------------

    def register_run(self, *, name: str, spec_digest: str, spec_json: str, spec_text: str, seed: int, n: int | None,
                     device: str, overrides: Mapping[str, Any] | None = None) -> None:
        """Record the run on first use (``overrides``: what the command line changed in the spec file); refuse a
        database made by another spec."""
        with self.transaction() as c:
            c.execute(f"INSERT OR IGNORE INTO run (id, {', '.join(RUN_COLUMNS)}, overrides_json) "
                      "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (name, spec_digest, spec_json, spec_text, seed, n, device, now(), SCHEMA_VERSION,
                       json.dumps(dict(overrides or {}), default=str)))
        check_resumable(self.path, spec_digest, spec_json)

    def start_session(self, *, executor: str, device: str, argv: Sequence[str], versions: dict[str, str],
                      code_revision: str | None) -> int:
        with self.transaction() as c:
            cur = c.execute("INSERT INTO sessions (started, pid, host, executor, device, argv, versions_json, code_revision) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (now(), os.getpid(), socket.gethostname(), executor, device, json.dumps(list(argv)),
                             json.dumps(versions), code_revision))
            self.session_id = int(cur.lastrowid)
        self.heartbeat = Heartbeat(lambda: _connect(self.path), self.session_id)
        return self.session_id

    def _stop_heartbeat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
            self.heartbeat = None

    def finish_session(self, outcome: str) -> None:
        """Record how the session ended and release the claims it still holds (jobs it did not finish)."""
        self._stop_heartbeat()
        with self.transaction() as c:
            c.execute("DELETE FROM claims WHERE session_id = ?", (self.session_id,))
            c.execute("UPDATE sessions SET finished = ?, outcome = ? WHERE id = ?", (now(), outcome, self.session_id))

    def record_plan(self, jobs: Sequence[Job]) -> None:
        """Replace the list of planned jobs (same content when two processes run the same spec)."""
        with self.transaction() as c:
            c.execute("DELETE FROM plan_jobs")
            c.executemany("INSERT INTO plan_jobs VALUES (?, ?, ?, ?, ?, ?)",
                          [(j.key, i, j.kind.value, j.label, json.dumps(list(j.deps)), _labels_json(j))
                           for i, j in enumerate(jobs)])

    # -- jobs ------------------------------------------------------------------

    def done_keys(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT key FROM jobs WHERE status = 'done'")}

    def is_done(self, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM jobs WHERE key = ? AND status = 'done'", (key,)).fetchone() is not None

    def claim(self, key: str) -> Claim:
        """Claim job ``key`` for this session before running it (``bench.claims``); one transaction."""
        with self.transaction() as c:
            return take(c, key, self.session_id, self.process)

    def settle(self, held: dict[str, int]) -> dict[str, Settled]:
        """Of the jobs ``held`` by other sessions (key -> session), those they are done with, and how."""
        return settle(self.conn, held)

    def record(self, job: Job, outcome: Outcome) -> None:
        """The outcome of ``job``, its result and flags, and the release of its claim, in one transaction.

        A done job is never overwritten.
        """
        with self.transaction() as c:
            c.execute("DELETE FROM claims WHERE job_key = ? AND session_id = ?", (job.key, self.session_id))
            c.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                "status = excluded.status, error = excluded.error, seconds = excluded.seconds, started = excluded.started, "
                "finished = excluded.finished, device = excluded.device, session_id = excluded.session_id, "
                "details_json = excluded.details_json WHERE jobs.status != 'done'",
                (job.key, job.kind.value, job.label, outcome.status.value, outcome.error, outcome.seconds, outcome.started,
                 outcome.finished, outcome.device, self.session_id, json.dumps(outcome.details, default=str)))
            if outcome.status is Status.DONE and outcome.result is not None and isinstance(job.task, EvaluateTask):
                self._insert_result(c, job, outcome)
            if outcome.status is Status.DONE and isinstance(job.task, AuditTask):
                self._insert_checks(c, job, outcome)

    def _insert_checks(self, c: sqlite3.Connection, job: Job, outcome: Outcome) -> None:
        task: AuditTask = job.task  # type: ignore[assignment]
        labels = asdict(task.labels)
        for check in outcome.details.get("checks", ()):
            row = {"job_key": job.key, "part": task.part, **labels, "classifier_key": task.classifier.key, **check}
            columns = ", ".join(f'"{k}"' for k in row)
            c.execute(f"INSERT OR IGNORE INTO audit ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))

    def _insert_result(self, c: sqlite3.Connection, job: Job, outcome: Outcome) -> None:
        task: EvaluateTask = job.task  # type: ignore[assignment]
        result = outcome.result
        labels = asdict(task.labels)
        n = labels["n"]
        row = {**labels, "job_key": job.key, "accuracy": float(np.mean(result.correct)) if n else 0.0,
               "accuracy_undefended": float(np.mean(result.correct_undefended)) if n else 0.0,
               "seconds": outcome.seconds, "purify_seconds_per_image": result.purify_seconds / max(n, 1),
               "eval_batch_size": task.batch_size, "device": outcome.device, "classifier_key": task.classifier.key,
               "stack_json": json.dumps([{"label": s.label, "base": s.base, "params": s.params, "key": s.key,
                                          "fit_key": s.fit_key} for s in task.stack], default=str),
               "advset_key": task.advset.key if task.advset else None,
               "attack_params_json": json.dumps(task.advset.attack.params, default=str) if task.advset else None,
               "threat_params_json": json.dumps(task.advset.threat.params, default=str) if task.advset else None,
               "finished": outcome.finished, "max_perturbation": result.max_perturbation}
        columns = ", ".join(row)
        c.execute(f"INSERT OR IGNORE INTO results ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        c.execute("INSERT OR IGNORE INTO flags VALUES (?, ?, ?, ?)",
                  (job.key, n, pack_flags(result.correct), pack_flags(result.correct_undefended)))
        if result.correct_draws is not None:
            draws = np.asarray(result.correct_draws, dtype=bool)
            c.execute("INSERT OR IGNORE INTO draws VALUES (?, ?, ?, ?, ?)",
                      (job.key, len(draws), n, float(draws.mean()) if n else 0.0, pack_flags(draws.ravel())))


# ---------------------------------------------------------------- reading


def open_readonly(path: Path | str) -> sqlite3.Connection:
    path = Path(path)
    if read_run(path) is None:
        raise UserError(f"{path} is not a purebench results database; give the .sqlite file a run wrote (see results/)")
    return _connect(path, readonly=True)


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """Whether the database has table ``name`` (one written before the table existed has not)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def results_rows(path: Path | str, *, planned_only: bool = True) -> list[dict[str, Any]]:
    """Result rows (of the current plan's jobs only, unless ``planned_only`` is False), in plan order.

    Each has ``draws`` (1 for a stack evaluated once) and ``accuracy_mean_draws``
    (the mean accuracy over the draws; ``accuracy`` counts an example only if
    it is correct on every draw).
    """
    conn = open_readonly(path)
    try:
        join = "JOIN plan_jobs p ON p.key = r.job_key" if planned_only else "LEFT JOIN plan_jobs p ON p.key = r.job_key"
        draws = ("COALESCE(d.draws, 1) AS draws, COALESCE(d.accuracy_mean, r.accuracy) AS accuracy_mean_draws",
                 "LEFT JOIN draws d ON d.job_key = r.job_key") if has_table(conn, "draws") else (
                 "1 AS draws, r.accuracy AS accuracy_mean_draws", "")
        query = f"SELECT r.*, {draws[0]} FROM results r {join} {draws[1]} ORDER BY p.position, r.job_key"
        return [dict(r) for r in conn.execute(query)]
    finally:
        conn.close()


def flags_of(path: Path | str, job_keys: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-example (correct, correct_undefended) flags of the given evaluate jobs."""
    conn = open_readonly(path)
    try:
        out = {}
        for key in job_keys:
            row = conn.execute("SELECT * FROM flags WHERE job_key = ?", (key,)).fetchone()
            if row is not None:
                out[key] = (unpack_flags(row["correct"], row["n"]), unpack_flags(row["correct_undefended"], row["n"]))
        return out
    finally:
        conn.close()


def draw_flags_of(path: Path | str, job_keys: Iterable[str]) -> dict[str, np.ndarray]:
    """Per-example correct flags after the defense, one row per draw (draws, n), of the given evaluate jobs."""
    keys = list(job_keys)
    out = {key: correct[None, :] for key, (correct, _) in flags_of(path, keys).items()}
    conn = open_readonly(path)
    try:
        if has_table(conn, "draws"):
            for key in keys:
                row = conn.execute("SELECT * FROM draws WHERE job_key = ?", (key,)).fetchone()
                if row is not None:
                    out[key] = unpack_flags(row["correct"], row["draws"] * row["n"]).reshape(row["draws"], row["n"])
        return out
    finally:
        conn.close()


def audit_rows(path: Path | str) -> list[dict[str, Any]]:
    """Check rows of the current plan's audit jobs, in plan order, each with its job's details (JSON)."""
    conn = open_readonly(path)
    try:
        if not has_table(conn, "audit"):
            return []
        query = ("SELECT a.*, j.details_json FROM audit a JOIN plan_jobs p ON p.key = a.job_key JOIN jobs j ON j.key = a.job_key "
                 "ORDER BY p.position, a.rowid")
        return [dict(r) for r in conn.execute(query)]
    finally:
        conn.close()


def job_rows(path: Path | str) -> list[dict[str, Any]]:
    """Every planned job with its status (``pending`` when it has not finished yet) and, for evaluate jobs, its labels.

    ``labels_json`` is None in a database whose plan was recorded before that column existed.
    """
    conn = open_readonly(path)
    try:
        labels = "p.labels_json" if _has_column(conn, "plan_jobs", "labels_json") else "NULL AS labels_json"
        query = ("SELECT p.key, p.kind, p.label, COALESCE(j.status, 'pending') AS status, j.error, j.seconds, j.started, "
                 f"j.finished, j.device, j.details_json, {labels} FROM plan_jobs p LEFT JOIN jobs j ON j.key = p.key "
                 "ORDER BY p.position")
        return [dict(r) for r in conn.execute(query)]
    finally:
        conn.close()


def run_info(path: Path | str) -> dict[str, Any]:
    """The run row and its sessions (provenance for reports)."""
    conn = open_readonly(path)
    try:
        run = dict(conn.execute("SELECT * FROM run WHERE id = 1").fetchone())
        run["sessions"] = [dict(r) for r in conn.execute("SELECT * FROM sessions ORDER BY id")]
        return run
    finally:
        conn.close()
