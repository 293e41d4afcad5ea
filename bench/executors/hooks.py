"""What an executor asks of the driver (claim a job, look up jobs held elsewhere) and reports to it (started, how far, finished)."""

from __future__ import annotations

from typing import Protocol

from bench.claims import Claim, Settled
from bench.jobs import Job, Outcome


class Hooks(Protocol):
    def claim(self, key: str) -> Claim:
        """Claim job ``key`` before dispatching it: taken, done already, or held by another live process."""

    def settle(self, held: dict[str, int]) -> dict[str, Settled]:
        """Of the jobs held by other processes (key -> their session), those they are done with, and how."""

    def started(self, job: Job, worker: int = 0) -> None:
        """``job`` started on worker number ``worker`` (0-based)."""

    def advanced(self, key: str, fraction: float, detail: str = "") -> None:
        """The running job ``key`` has done ``fraction`` (0 to 1) of its work; ``detail`` says where it is."""

    def finished(self, job: Job, outcome: Outcome) -> None:
        """Record the outcome (the driver is the only writer of the store)."""
