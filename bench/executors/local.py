"""The local executor: jobs one after another in this process, in plan (topological) order."""

from __future__ import annotations

from typing import Mapping

import torch

from bench.data import DatasetSplits
from bench.executors.hooks import Hooks
from bench.executors.skip import skipped_outcome
from bench.jobs import Status
from bench.jobs_execute import execute
from bench.run_context import ContextSettings, RunContext
from bench.run_schedule import Schedule


class LocalExecutor:
    def run(self, schedule: Schedule, settings: ContextSettings, hooks: Hooks, datasets: Mapping[str, DatasetSplits]) -> None:
        threads = torch.get_num_threads()
        try:
            self._run(RunContext(settings, datasets), schedule, hooks)
        finally:
            torch.set_num_threads(threads)  # the context may have set the spec's; the caller's process keeps its own

    @staticmethod
    def _run(ctx: RunContext, schedule: Schedule, hooks: Hooks) -> None:
        while not schedule.finished():
            ready = schedule.ready()
            if not ready:
                raise RuntimeError("no job is ready although some are pending: the plan has a dependency cycle")
            job = ready[0]
            schedule.start(job)
            if hooks.is_done(job.key):  # finished meanwhile by another process writing the same database
                schedule.finish(job.key, True)
                continue
            hooks.started(job)
            outcome = execute(job, ctx)
            hooks.finished(job, outcome)
            for dependent in schedule.finish(job.key, outcome.status is Status.DONE):
                hooks.finished(dependent, skipped_outcome(dependent, job))
