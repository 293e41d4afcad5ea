"""Running a spec end to end: plan, open the store, execute what is not done, summarise.

This is the one code path for the matrix: the CLI's ``run`` and main job call
``run_spec``, and so may any Python entry point built on the planner.
Everything a user can get wrong (the spec, the device, a missing Ray, a
results database of another spec) is checked before the store is written.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from bench.cache import ArtifactCache
from bench.claims import Claim, Settled
from bench.data import DatasetSplits
from bench.device import resolve_device
from bench.executors import check_executor, make_executor
from bench.jobs import Job, Outcome, Status
from bench.paths import cache_root
from bench.plan import Plan, build_plan
from bench.run_context import ContextSettings
from bench.run_costs import CostHistory, cost_model
from bench.run_progress import Progress
from bench.run_provenance import code_revision, versions
from bench.run_schedule import Schedule
from bench.spec import Spec
from bench.store import Store, check_resumable, done_keys, job_rows
from bench.thread_policy import resolve_parallelism

RESULTS_DIR = Path("results")


@dataclass(frozen=True)
class RunOptions:
    results: Path | None = None  # default results/<spec name>.sqlite
    executor: str = "local"
    ray_address: str | None = None
    dry_run: bool = False
    progress: bool = True
    argv: Sequence[str] = ()
    workers: int | None = None  # default: the spec's, else bench.thread_policy's choice


@dataclass(frozen=True)
class RunSummary:
    path: Path
    plan: Plan
    statuses: Counter = field(default_factory=Counter)  # over the plan's jobs: done, failed, skipped, pending
    failures: tuple[tuple[str, str], ...] = ()  # (job label, first line of its error)
    ran: int = 0  # jobs run by this invocation

    @property
    def ok(self) -> bool:
        return self.statuses.get(Status.DONE.value, 0) == len(self.plan.jobs)


def requested_workers(spec: Spec, workers: int | None) -> int | None:
    """``--workers`` when given (0 included, to be refused, not read as "unset"), else the spec's."""
    return workers if workers is not None else spec.workers


def results_path(spec: Spec, results: Path | str | None) -> Path:
    return Path(results) if results is not None else RESULTS_DIR / f"{spec.name}.sqlite"


class _StoreHooks:
    """The driver's side of an executor: claim jobs in the store, write each outcome there and its cost to the history,
    move the progress."""

    def __init__(self, store: Store, progress: Progress, history: CostHistory) -> None:
        self.store, self.progress, self.history, self.ran = store, progress, history, 0

    def claim(self, key: str) -> Claim:
        return self.store.claim(key)

    def settle(self, held: dict[str, int]) -> dict[str, Settled]:
        return self.store.settle(held)

    def started(self, job: Job, worker: int = 0) -> None:
        self.progress.started(job, worker)

    def advanced(self, key: str, fraction: float, detail: str = "") -> None:
        self.progress.advanced(key, fraction, detail)

    def finished(self, job: Job, outcome: Outcome) -> None:
        self.store.record(job, outcome)
        self.history.record(job, outcome)
        self.ran += outcome.status is not Status.SKIPPED
        self.progress.finished(job, outcome)


def _summary(path: Path, plan: Plan, ran: int) -> RunSummary:
    rows = [r for r in job_rows(path) if r["key"] in plan.jobs]
    failures = tuple((r["label"], (r["error"] or "").splitlines()[0]) for r in rows if r["status"] == Status.FAILED.value)
    return RunSummary(path, plan, Counter(r["status"] for r in rows), failures, ran)


def run_spec(spec: Spec, options: RunOptions = RunOptions(),
             datasets: Mapping[str, DatasetSplits] | None = None) -> RunSummary:
    """Run (or resume) ``spec`` into its results database; with ``dry_run`` only plan it.

    ``datasets`` may hold splits already loaded (by name), to spare loading them again.
    """
    path = results_path(spec, options.results)
    check_resumable(path, spec.digest(), json.dumps(spec.identity(), default=str))
    check_executor(options.executor, options.ray_address)
    if options.dry_run:
        plan = build_plan(spec, datasets, read_data=False)
        return RunSummary(path, plan, Counter({Status.DONE.value: len(done_keys(path) & plan.jobs.keys())}))
    device = resolve_device(spec.device)
    parallelism = resolve_parallelism(device, requested_workers(spec, options.workers), spec.threads)
    executor = make_executor(options.executor, options.ray_address, parallelism.workers)
    plan = build_plan(spec, datasets)
    store = Store(path)
    try:
        store.register_run(name=spec.name, spec_digest=spec.digest(), spec_json=json.dumps(spec.identity(), default=str),
                           spec_text=spec.text, seed=spec.seed, n=spec.n, device=spec.device, overrides=spec.overrides)
        store.start_session(executor=options.executor, device=str(device), argv=options.argv, versions=versions(),
                            code_revision=code_revision())
        store.record_plan(plan.ordered())
        cache = ArtifactCache(cache_root())
        costs = cost_model(cache, plan.datasets).estimates(plan.ordered())
        schedule = Schedule(plan.ordered(), store.done_keys(), costs)
        progress = Progress({key: costs[key] for key in schedule.pending}, parallelism.workers, enabled=options.progress)
        hooks = _StoreHooks(store, progress, CostHistory(cache.root))
        settings = ContextSettings(device=spec.device, cache_root=str(cache.root), threads=parallelism.threads)
        outcome = "interrupted"
        try:
            executor.run(schedule, settings, hooks, plan.datasets)
            outcome = "complete"
        finally:
            progress.close()
            store.finish_session(outcome)
    finally:
        store.close()
    return _summary(path, plan, hooks.ran)
