"""Job claims: processes writing one results database split the jobs instead of each running all of them.

Before a driver dispatches a job it claims it in the ``claims`` table (one
``BEGIN IMMEDIATE`` transaction: read the job's status and its claim, write
ours), recording host, pid, the pid's start time, session, claim date and a
heartbeat.  A job another live process holds is deferred; the holder's outcome
reaches the others through the store.  A claim is released in the transaction
that records its job's outcome, and all of a session's claims when it ends.

A holder is dead, and its claims are taken over, when on this host its pid is
gone or belongs to a process started at another time (pid reuse), or, on any
host, when its heartbeat is older than ``STALE_SECONDS``: a background thread
refreshes a live session's claims every ``HEARTBEAT_SECONDS``, so neither
SIGKILL nor a lost machine leaves a job stuck.  Heartbeats compare clocks of
different hosts: ``STALE_SECONDS`` is long against any sane clock skew, and a
skew beyond it costs a job run twice, never a wrong result (the store keeps
the first ``done`` outcome of a job).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Mapping

from bench.processes import ProcessId
from bench.timestamps import now

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 90.0
SETTLE_SECONDS = 1.0  # how often a driver waiting for jobs held elsewhere looks at the store again

CLAIMS_TABLE = """
CREATE TABLE IF NOT EXISTS claims (
    job_key TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, pid_started INTEGER,
    session_id INTEGER NOT NULL, claimed TEXT NOT NULL, heartbeat REAL NOT NULL)
"""


class ClaimState(Enum):
    TAKEN = "taken"  # ours now: dispatch it
    DONE = "done"  # another process stored it done
    HELD = "held"  # a live process runs it


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    holder: int | None = None  # the holding session, when HELD


class Settled(Enum):
    """What became of a job held by another session."""

    DONE = "done"
    FAILED = "failed"  # the holder recorded it failed (or skipped): its dependents are skipped here too
    FREE = "free"  # released without an outcome, or its holder died: claim it again


def _holder_alive(row: sqlite3.Row, clock: float) -> bool:
    process = ProcessId(row["host"], row["pid"], row["pid_started"])
    return process.is_alive() is not False and clock - row["heartbeat"] <= STALE_SECONDS


def take(conn: sqlite3.Connection, key: str, session: int, process: ProcessId) -> Claim:
    """Claim job ``key`` for ``session`` unless it is done or a live session holds it; inside the caller's transaction."""
    status = conn.execute("SELECT status FROM jobs WHERE key = ?", (key,)).fetchone()
    if status is not None and status[0] == "done":
        return Claim(ClaimState.DONE)
    row = conn.execute("SELECT * FROM claims WHERE job_key = ?", (key,)).fetchone()
    clock = time.time()
    if row is not None and row["session_id"] != session and _holder_alive(row, clock):
        return Claim(ClaimState.HELD, row["session_id"])
    conn.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (key, process.host, process.pid, process.started, session, now(), clock))
    return Claim(ClaimState.TAKEN)


def settle(conn: sqlite3.Connection, held: Mapping[str, int]) -> dict[str, Settled]:
    """Jobs of ``held`` (key -> holding session) whose holder is done with them, and how; read-only."""
    out, clock = {}, time.time()
    for key, holder in held.items():
        job = conn.execute("SELECT status, session_id FROM jobs WHERE key = ?", (key,)).fetchone()
        row = conn.execute("SELECT * FROM claims WHERE job_key = ?", (key,)).fetchone()
        if job is not None and job["status"] == "done":
            out[key] = Settled.DONE
        elif row is not None and row["session_id"] == holder and _holder_alive(row, clock):
            continue
        elif row is not None and row["session_id"] != holder:
            out[key] = Settled.FREE  # taken over by a third session: claiming it again defers to that one
        else:
            out[key] = Settled.FAILED if job is not None and job["session_id"] == holder else Settled.FREE
    return out


class Heartbeat:
    """A thread refreshing the heartbeat of a session's claims, on a connection of its own, until stopped."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], session: int) -> None:
        self.connect, self.session = connect, session
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="purebench-claims-heartbeat", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        conn = self.connect()
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                try:
                    conn.execute("UPDATE claims SET heartbeat = ? WHERE session_id = ?", (time.time(), self.session))
                except sqlite3.OperationalError:
                    pass  # the database was busy for a whole timeout: the next beat comes well before the claims go stale
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
