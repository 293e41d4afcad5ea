"""The driver's side of every executor: which job to dispatch next, and what a finished job frees or skips.

A job is dispatched only once this process has claimed it in the store
(``bench.claims``), so processes running one database split the plan.  A job
done by another process is taken off; one another live process holds is
deferred, and looked up again at most every ``SETTLE_SECONDS``: its stored
outcome frees (or skips) its dependents here as if it had run here, and a
holder that died or let it go without an outcome hands it back.
"""

from __future__ import annotations

import time

from bench.claims import SETTLE_SECONDS, ClaimState, Settled
from bench.executors.hooks import Hooks
from bench.executors.skip import skipped_outcome
from bench.jobs import Job, Outcome, Status
from bench.run_schedule import Schedule


def next_job(schedule: Schedule, hooks: Hooks, busy: bool = False) -> Job | None:
    """The next ready job, claimed by this process and marked started; None when none can start now.

    ``busy``: jobs of this process are running, so the caller waits for them.
    Otherwise, when every job left is held elsewhere, this waits (up to
    ``SETTLE_SECONDS``) for their holders before returning None.
    """
    _settle(schedule, hooks, wait=not busy)
    while ready := schedule.ready():
        job = ready[0]
        claim = hooks.claim(job.key)
        if claim.state is ClaimState.TAKEN:
            schedule.start(job)
            return job
        if claim.state is ClaimState.DONE:
            schedule.finish(job.key, True)
        else:
            schedule.defer(job, claim.holder)
    if not busy and not schedule.held and not schedule.ready() and not schedule.finished():
        raise RuntimeError("no job is ready although some are pending: the plan has a dependency cycle")
    return None


def _settle(schedule: Schedule, hooks: Hooks, wait: bool) -> None:
    """Take in the outcomes of held jobs whose holders are done with them (at most every ``SETTLE_SECONDS``)."""
    if not schedule.held:
        return
    due = schedule.held_checked + SETTLE_SECONDS - time.monotonic()
    if due > 0:
        if not wait or schedule.ready():
            return
        time.sleep(due)
    schedule.held_checked = time.monotonic()
    for key, settled in hooks.settle(dict(schedule.held)).items():
        job = schedule.pending[key]
        if settled is Settled.DONE:
            schedule.finish(key, True)
        elif settled is Settled.FAILED:
            for dependent in schedule.finish(key, False):
                hooks.finished(dependent, skipped_outcome(dependent, job))
        else:
            schedule.release(key)


def record(schedule: Schedule, hooks: Hooks, job: Job, outcome: Outcome) -> None:
    """Hand ``outcome`` to the driver, then skip the dependents of a failure."""
    hooks.finished(job, outcome)
    for dependent in schedule.finish(job.key, outcome.status is Status.DONE):
        hooks.finished(dependent, skipped_outcome(dependent, job))
