"""The local executor: ready jobs in ``workers`` processes on this machine, longest path first.

With one worker, jobs run one after another in this process (which reuses
the datasets the planner loaded, and any in-memory object as it is).  With
more, each worker is a spawned process (``bench.executors.process_pool``);
the driver hands a ready job to an idle worker, writes each outcome to the
store as it arrives and is its only writer.  Every job seeds torch itself and
reads its inputs from the artifact cache, so per-example results do not
depend on the number of workers, nor on which worker ran what, at equal
``threads`` (CPU float results depend on the thread count).
"""

from __future__ import annotations

from typing import Mapping

from bench.data import DatasetSplits
from bench.executors.dispatch import next_job, record
from bench.executors.hooks import Hooks
from bench.executors.process_pool import WorkerPool
from bench.job_progress import JobProgress
from bench.jobs_execute import execute
from bench.run_context import ContextSettings, RunContext
from bench.run_schedule import Schedule
from bench.thread_policy import torch_threads


class LocalExecutor:
    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, schedule: Schedule, settings: ContextSettings, hooks: Hooks, datasets: Mapping[str, DatasetSplits]) -> None:
        workers = min(self.workers, len(schedule))
        if workers <= 1:
            self._run_here(schedule, settings, hooks, datasets)
        else:
            self._run_pool(schedule, settings, hooks, datasets, workers)

    @staticmethod
    def _run_here(schedule: Schedule, settings: ContextSettings, hooks: Hooks, datasets: Mapping[str, DatasetSplits]) -> None:
        with torch_threads(None):  # the context sets the run's count; the caller's process keeps its own
            ctx = RunContext(settings, datasets)
            while not schedule.finished():
                job = next_job(schedule, hooks)
                if job is None:
                    continue
                hooks.started(job, 0)
                ctx.job_progress = JobProgress(lambda fraction, detail, key=job.key: hooks.advanced(key, fraction, detail))
                record(schedule, hooks, job, execute(job, ctx))

    @staticmethod
    def _run_pool(schedule: Schedule, settings: ContextSettings, hooks: Hooks, datasets: Mapping[str, DatasetSplits],
                  workers: int) -> None:
        with WorkerPool(workers, settings, datasets) as pool:
            while not schedule.finished():
                while pool.idle() and (job := next_job(schedule, hooks, busy=pool.busy())) is not None:
                    hooks.started(job, pool.submit(job))
                if not pool.busy():
                    continue  # jobs finished by another process freed their dependents, or are awaited
                for event in pool.events():
                    if event.outcome is None:
                        hooks.advanced(event.job.key, event.fraction, event.detail)
                    else:
                        record(schedule, hooks, event.job, event.outcome)
