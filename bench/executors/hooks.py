"""What an executor reports to the driver: a job started, how far it is, a job finished (or was done by another process)."""

from __future__ import annotations

from typing import Protocol

from bench.jobs import Job, Outcome


class Hooks(Protocol):
    def is_done(self, key: str) -> bool:
        """True when the store already holds the job done (another process may have finished it)."""

    def started(self, job: Job, worker: int = 0) -> None:
        """``job`` started on worker number ``worker`` (0-based)."""

    def advanced(self, key: str, fraction: float, detail: str = "") -> None:
        """The running job ``key`` has done ``fraction`` (0 to 1) of its work; ``detail`` says where it is."""

    def finished(self, job: Job, outcome: Outcome) -> None:
        """Record the outcome (the driver is the only writer of the store)."""
