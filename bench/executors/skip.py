"""The outcome recorded for a job skipped because a job it depends on failed."""

from __future__ import annotations

from bench.jobs import Job, Outcome, Status
from bench.timestamps import now


def skipped_outcome(job: Job, cause: Job) -> Outcome:
    stamp = now()
    return Outcome(job.key, Status.SKIPPED, 0.0, stamp, stamp, "", error=f"skipped: {cause.label} failed")
