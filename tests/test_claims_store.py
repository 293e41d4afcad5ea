"""Claims in one database: who may take a job, when a holder counts as dead, and how a waiting driver goes on.

Two ``Store`` objects on one file are two sessions, as two processes would be;
a claim row written by hand stands for a holder in any other state (dead
pid, reused pid, another host, a stale heartbeat).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from bench.claims import STALE_SECONDS, ClaimState, Settled
from bench.executors.dispatch import next_job, record
from bench.jobs import Job, JobKind, Outcome, Status
from bench.processes import ProcessId, start_time
from bench.run_schedule import Schedule
from bench.store import Store


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def open_session(path) -> Store:
    store = Store(path)
    store.register_run(name="t", spec_digest="d", spec_json="{}", spec_text="", seed=0, n=5, device="cpu")
    store.start_session(executor="local", device="cpu", argv=[], versions={}, code_revision=None)
    return store


@pytest.fixture()
def db(tmp_path):
    return tmp_path / "run.sqlite"


@pytest.fixture()
def store(db):
    s = open_session(db)
    yield s
    s.close()


def hold(store: Store, key: str, *, host: str | None = None, pid: int | None = None, started: int | None = -1,
         age: float = 0.0, session: int = 999) -> None:
    """A claim of ``key`` by another session, as a process in the given state would have left it."""
    me = ProcessId.current()
    with store.transaction() as c:
        c.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (key, host or me.host, pid or me.pid, me.started if started == -1 else started, session, "",
                   time.time() - age))


def job(key: str, *deps: str) -> Job:
    return Job(key, JobKind.TRAIN, key, deps, None)


def done(key: str) -> Outcome:
    return Outcome(key, Status.DONE, 1.0, "", "", "cpu")


def test_a_free_job_is_taken_once(store, db):
    other = open_session(db)
    try:
        assert store.claim("a").state is ClaimState.TAKEN
        held = other.claim("a")
        assert held.state is ClaimState.HELD and held.holder == store.session_id
        store.record(job("a"), done("a"))  # recording releases the claim
        assert other.claim("a").state is ClaimState.DONE
    finally:
        other.close()


@pytest.mark.parametrize("holder", ["dead pid", "reused pid", "stale heartbeat here", "stale heartbeat elsewhere"])
def test_a_dead_holders_claim_is_taken_over(store, holder):
    state = {"dead pid": dict(pid=dead_pid()),
             "reused pid": dict(started=(start_time(ProcessId.current().pid) or 0) + 1),  # our pid, another start
             "stale heartbeat here": dict(age=STALE_SECONDS + 5),
             "stale heartbeat elsewhere": dict(host="elsewhere.invalid", age=STALE_SECONDS + 5)}[holder]
    hold(store, "a", **state)
    assert store.claim("a").state is ClaimState.TAKEN
    row = store.conn.execute("SELECT session_id, pid FROM claims WHERE job_key = 'a'").fetchone()
    assert tuple(row) == (store.session_id, ProcessId.current().pid)


@pytest.mark.parametrize("holder", ["live process here", "fresh heartbeat elsewhere"])
def test_a_live_holders_claim_is_respected(store, holder):
    hold(store, "a", **({} if holder == "live process here" else dict(host="elsewhere.invalid", pid=dead_pid())))
    claim = store.claim("a")
    assert claim.state is ClaimState.HELD and claim.holder == 999


def test_start_time_tells_a_reused_pid_apart():
    me = ProcessId.current()
    assert me.started is not None and me.is_alive()
    assert ProcessId(me.host, me.pid, me.started + 1).is_alive() is False
    assert ProcessId(me.host, dead_pid(), None).is_alive() is False
    assert ProcessId("elsewhere.invalid", me.pid, me.started).is_alive() is None


def test_held_jobs_settle_by_what_their_holder_stored(store, db):
    holder = open_session(db)
    try:
        for key in "abc":
            assert holder.claim(key).state is ClaimState.TAKEN
        held = {key: holder.session_id for key in "abcd"}
        assert store.settle(held) == {"d": Settled.FREE}  # d: no claim and no outcome
        holder.record(job("a"), done("a"))
        holder.record(job("b"), Outcome("b", Status.FAILED, 1.0, "", "", "cpu", error="boom"))
        assert store.settle(held) == {"a": Settled.DONE, "b": Settled.FAILED, "d": Settled.FREE}
        holder.finish_session("interrupted")  # c let go unfinished
        assert store.settle(held)["c"] is Settled.FREE
    finally:
        holder.close()


class StoreHooks:
    """The driver's claims and records, without progress."""

    def __init__(self, store: Store) -> None:
        self.store, self.recorded = store, []

    def claim(self, key):
        return self.store.claim(key)

    def settle(self, held):
        return self.store.settle(held)

    def finished(self, job, outcome):
        self.store.record(job, outcome)
        self.recorded.append((job.key, outcome.status))


def test_a_driver_waits_for_a_job_held_elsewhere_then_runs_its_dependents(store, db):
    plan = [job("train"), job("craft", "train"), job("other")]
    holder = open_session(db)
    try:
        assert holder.claim("train").state is ClaimState.TAKEN
        schedule, hooks = Schedule(plan, ()), StoreHooks(store)
        first = next_job(schedule, hooks)
        assert first.key == "other" and schedule.held == {"train": holder.session_id}
        record(schedule, hooks, first, done("other"))
        started = time.monotonic()
        assert next_job(schedule, hooks) is None and next_job(schedule, hooks) is None  # train still held
        assert time.monotonic() - started >= 0.9 and "train" in schedule.held  # looked up again after a second, not at once
        holder.record(job("train"), done("train"))
        dependent = next_job(schedule, hooks)
        assert dependent.key == "craft" and "train" in schedule.done and not schedule.held
        record(schedule, hooks, dependent, done("craft"))
        assert schedule.finished() and hooks.recorded == [("other", Status.DONE), ("craft", Status.DONE)]
    finally:
        holder.close()


def test_a_failure_stored_elsewhere_skips_the_dependents_here(store, db):
    holder = open_session(db)
    try:
        assert holder.claim("train").state is ClaimState.TAKEN
        schedule, hooks = Schedule([job("train"), job("craft", "train")], ()), StoreHooks(store)
        assert next_job(schedule, hooks) is None and schedule.held
        holder.record(job("train"), Outcome("train", Status.FAILED, 1.0, "", "", "cpu", error="boom"))
        assert next_job(schedule, hooks) is None
        assert schedule.finished() and hooks.recorded == [("craft", Status.SKIPPED)]
    finally:
        holder.close()


def test_a_session_releases_its_claims_when_it_ends(store):
    assert store.claim("a").state is ClaimState.TAKEN
    store.finish_session("interrupted")
    assert store.conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0


def test_the_heartbeat_keeps_claims_fresh(store, monkeypatch):
    monkeypatch.setattr("bench.claims.HEARTBEAT_SECONDS", 0.05)
    store.finish_session("complete")
    store.start_session(executor="local", device="cpu", argv=[], versions={}, code_revision=None)  # beats every 0.05 s
    assert store.claim("a").state is ClaimState.TAKEN
    store.conn.execute("UPDATE claims SET heartbeat = 0")
    deadline = time.monotonic() + 10
    while store.conn.execute("SELECT heartbeat FROM claims").fetchone()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.conn.execute("SELECT heartbeat FROM claims").fetchone()[0] > time.time() - 5


def test_an_old_database_gets_the_claims_table_on_open(db):
    conn = sqlite3.connect(db)
    conn.executescript("""
        CREATE TABLE run (id INTEGER PRIMARY KEY, name TEXT, spec_digest TEXT, spec_json TEXT, spec_text TEXT, seed INTEGER,
                          n INTEGER, device TEXT, created TEXT, schema_version INTEGER);
        CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT, finished TEXT, pid INTEGER, host TEXT,
                               executor TEXT, device TEXT, argv TEXT, versions_json TEXT, code_revision TEXT, outcome TEXT);
        CREATE TABLE plan_jobs (key TEXT PRIMARY KEY, position INTEGER, kind TEXT, label TEXT, deps_json TEXT);
        CREATE TABLE jobs (key TEXT PRIMARY KEY, kind TEXT, label TEXT, status TEXT, error TEXT, seconds REAL, started TEXT,
                           finished TEXT, device TEXT, session_id INTEGER, details_json TEXT);
        CREATE TABLE results (job_key TEXT PRIMARY KEY);
        CREATE TABLE flags (job_key TEXT PRIMARY KEY);
        INSERT INTO run VALUES (1, 't', 'd', '{}', '', 0, 5, 'cpu', '', 1);
    """)
    conn.close()
    store = open_session(db)
    try:
        assert store.claim("a").state is ClaimState.TAKEN
    finally:
        store.close()
