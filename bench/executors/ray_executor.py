"""The Ray executor: jobs as tasks on a pool of Ray actors, dependencies kept by the driver.

Each actor holds one ``RunContext`` (datasets and classifiers loaded once per
worker, not once per job) and asks for one GPU when the cluster has GPUs,
otherwise one CPU.  The driver submits a job when every job it depends on is
done and it has claimed the job (``bench.executors.dispatch``, as the local
executor does), collects outcomes as they finish and is the only writer of
the results store.  Artifacts travel through the artifact cache, so every node
must see the same ``PUREBENCH_CACHE`` (a shared filesystem on a multi-node
cluster).

``address`` joins an existing cluster (``ray.init(address=...)``); without it
a local Ray instance starts with this machine's CPUs and stops at the end.
Workers run torch with the spec's ``threads`` (one when the spec leaves it
unset) and reserve that many Ray CPUs each, so a node never runs more torch
threads than it has CPUs; CPU results depend on the thread count, so compare
runs with equal ``threads``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from bench.allocator import keep_freed_memory
from bench.data import DatasetSplits
from bench.errors import UserError
from bench.claims import SETTLE_SECONDS
from bench.executors.dispatch import next_job, record
from bench.executors.hooks import Hooks
from bench.jobs import Job, Outcome, Status
from bench.jobs_execute import execute
from bench.paths import cache_root
from bench.run_context import ContextSettings, RunContext
from bench.run_schedule import Schedule
from bench.timestamps import now

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class JobWorker:
    """A Ray actor running jobs in one long-lived context."""

    def __init__(self, settings: ContextSettings) -> None:
        keep_freed_memory()
        self.ctx = RunContext(settings)

    def run(self, job: Job) -> Outcome:
        return execute(job, self.ctx)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("the ray executor needs Ray: pip install 'purebench[ray]' (or pip install 'ray>=2.9')") from None
    return ray


class RayExecutor:
    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        import_ray()  # a missing Ray is a user error before anything is written

    def _init(self, ray: Any) -> bool:
        """Start or join Ray; True when this call started it (and must stop it)."""
        if ray.is_initialized():
            return False
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p),
               "PUREBENCH_CACHE": str(cache_root())}
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "runtime_env": {"env_vars": env}}
        if self.address is None:
            kwargs["num_cpus"] = self.num_cpus or os.cpu_count() or 1
        ray.init(address=self.address, **kwargs)
        return True

    def run(self, schedule: Schedule, settings: ContextSettings, hooks: Hooks, datasets: Mapping[str, DatasetSplits]) -> None:
        """``datasets`` stay in the driver: each worker loads what its jobs need once."""
        ray = import_ray()
        started_here = self._init(ray)
        try:
            self._drive(ray, schedule, settings, hooks)
        finally:
            if started_here:
                ray.shutdown()

    def _drive(self, ray: Any, schedule: Schedule, settings: ContextSettings, hooks: Hooks) -> None:
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(int(resources.get("CPU", 1)), 1)
        threads = settings.threads or 1
        options = {"num_cpus": 1, "num_gpus": 1} if gpus else {"num_cpus": min(threads, cpus)}
        settings = replace(settings, cache_root=str(Path(settings.cache_root or cache_root()).resolve()),
                           threads=threads, progress=False)
        worker_cls = ray.remote(JobWorker)
        count = max(1, min(gpus or cpus // options["num_cpus"], len(schedule)))
        actors = [worker_cls.options(**options).remote(settings) for _ in range(count)]
        slots = {actor: i for i, actor in enumerate(actors)}
        idle, running = list(actors), {}
        while not schedule.finished():
            while idle and (job := next_job(schedule, hooks, busy=bool(running))) is not None:
                actor = idle.pop()
                hooks.started(job, slots[actor])
                running[actor.run.remote(job)] = (job, actor)
            if not running:
                continue  # jobs finished by another process freed their dependents, or are awaited
            finished, _ = ray.wait(list(running), num_returns=1, timeout=SETTLE_SECONDS)
            if not finished:
                continue  # look again at jobs held by other processes
            job, actor = running.pop(finished[0])
            outcome, alive = self._outcome(ray, finished[0], job)
            if not alive:
                slot, actor = slots.pop(actor), worker_cls.options(**options).remote(settings)
                slots[actor] = slot
            idle.append(actor)
            record(schedule, hooks, job, outcome)

    @staticmethod
    def _outcome(ray: Any, ref: Any, job: Job) -> tuple[Outcome, bool]:
        """The worker's outcome and whether the worker lives; a worker that died is a failed job, not a failed run."""
        try:
            return ray.get(ref), True
        except ray.exceptions.RayError as exc:
            stamp = now()
            alive = not isinstance(exc, ray.exceptions.RayActorError)
            return Outcome(job.key, Status.FAILED, 0.0, stamp, stamp, "", error=f"{type(exc).__name__}: {exc}"), alive
