"""What a job will cost, in seconds of one worker: from what similar jobs cost before, or a per-kind model.

Three sources, best first:

1. The artifact cache already holds the job's artifact (a trained classifier,
   a fitted stage, an adversarial set): the job only reads it.
2. A similar job ran before on this machine: ``costs.sqlite`` in the artifact
   cache keeps, per *cost signature* (what determines the work, not the seed),
   the seconds per unit of work (per test example for crafts and evaluations,
   per job for training and fitting).  Every run adds what it measured.
3. Otherwise the per-kind model of ``bench.cost_terms`` (images x image size x
   passes x the stack's purification), its per-image terms recorded by earlier
   evaluations and crafts where present, else measured on the main job.  It
   is only an estimate; the second run knows better.

The schedule starts jobs on the longest estimated path first; the progress bar
and ``--dry-run`` weigh jobs by these estimates.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Iterable, Mapping

from bench.attack_passes import attack_passes
from bench.cache import ArtifactCache
from bench.cost_terms import BUDGET_USED, CostTerms, DatasetScale, grad_term, stack_term
from bench.hashing import content_key
from bench.jobs import AuditTask, CraftTask, EvaluateTask, FitTask, Job, JobKind, Outcome, Status, TrainTask

COSTS_FILE = "costs.sqlite"
CACHE_KINDS = {JobKind.TRAIN: "classifiers", JobKind.FIT: "defenses", JobKind.CRAFT: "advsets"}
CACHED_SECONDS = 0.5  # reading an artifact back and checking its checksum
NOW_FLAGS = ("trained_now", "fitted_now", "crafted_now", "imported_now")


def _stack(stages: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"base": s.base, "params": s.params} for s in stages]


def signature(job: Job) -> str:
    """What determines a job's work, seed and key left out: similar jobs share it."""
    task = job.task
    if isinstance(task, TrainTask):
        c = task.classifier
        parts: dict[str, Any] = {"dataset": c.dataset, "arch": c.arch, "recipe": c.recipe_base, "params": c.recipe_params,
                                 "external": c.external is not None}
    elif isinstance(task, FitTask):
        parts = {"dataset": task.classifier.dataset, "arch": task.classifier.arch, "stage": _stack([task.stage])}
    elif isinstance(task, CraftTask):
        parts = {"dataset": task.target.dataset, "arch": task.target.arch, "attack": task.attack.base,
                 "attack_params": task.attack.params, "threat": task.threat.model, "threat_params": task.threat.params,
                 "stack": _stack(task.stack or ()), "batch_size": task.batch_size}
    elif isinstance(task, AuditTask):
        parts = {"dataset": task.classifier.dataset, "arch": task.classifier.arch, "stack": _stack(task.stack),
                 "part": task.part, "params": task.params, "batch_size": task.batch_size}
    else:  # EvaluateTask
        parts = {"dataset": task.classifier.dataset, "arch": task.classifier.arch, "stack": _stack(task.stack),
                 "clean": task.advset is None, "batch_size": task.batch_size}
    return content_key({"kind": job.kind.value, **parts})


def units(job: Job) -> int:
    """Units of work the recorded rate is per: test examples for crafts and evaluations, one otherwise."""
    if isinstance(job.task, CraftTask):
        return job.task.n
    if isinstance(job.task, (EvaluateTask, AuditTask)):
        return job.task.labels.n
    return 1


def is_cached(job: Job, cache: ArtifactCache) -> bool:
    """True when the cache holds the artifact this job would build (evaluations are never cached)."""
    kind = CACHE_KINDS.get(job.kind)
    if kind is None:
        return False
    task = job.task
    key = {JobKind.TRAIN: lambda: task.classifier.key, JobKind.FIT: lambda: task.stage.fit_key,
           JobKind.CRAFT: lambda: task.key}[job.kind]()
    return cache.contains(kind, key)


class CostHistory:
    """Recorded seconds per unit by cost signature, in ``costs.sqlite`` of the artifact cache."""

    def __init__(self, root: Path | str) -> None:
        self.path = Path(root) / COSTS_FILE

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS costs (signature TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                     "seconds_per_unit REAL NOT NULL, runs INTEGER NOT NULL)")
        conn.execute("CREATE TABLE IF NOT EXISTS terms (name TEXT PRIMARY KEY, seconds REAL NOT NULL, runs INTEGER NOT NULL)")
        return conn

    def rates(self) -> dict[str, float]:
        return self._read("SELECT signature, seconds_per_unit FROM costs")

    def terms(self) -> dict[str, float]:
        """Recorded per-image terms of ``bench.cost_terms``: a stack's purification, a classifier's gradient pass."""
        return self._read("SELECT name, seconds FROM terms")

    def _read(self, query: str) -> dict[str, float]:
        if not self.path.is_file():
            return {}
        try:
            with closing(self._connect()) as conn:
                return {name: value for name, value in conn.execute(query)}
        except sqlite3.DatabaseError:  # an unreadable history only costs the estimates their accuracy
            return {}

    def record(self, job: Job, outcome: Outcome) -> None:
        """Keep what a job that really did its work cost (a running mean per signature)."""
        if outcome.status is not Status.DONE or not computed(job, outcome):
            return
        rate = outcome.seconds / max(units(job), 1)
        try:
            with closing(self._connect()) as conn:
                conn.execute("INSERT INTO costs VALUES (?, ?, ?, 1) ON CONFLICT(signature) DO UPDATE SET "
                             "seconds_per_unit = (seconds_per_unit * runs + excluded.seconds_per_unit) / (runs + 1), "
                             "runs = MIN(runs + 1, 10)", (signature(job), job.kind.value, rate))
                for name, seconds in measured_terms(job, outcome).items():
                    conn.execute("INSERT INTO terms VALUES (?, ?, 1) ON CONFLICT(name) DO UPDATE SET "
                                 "seconds = (seconds * runs + excluded.seconds) / (runs + 1), runs = MIN(runs + 1, 10)",
                                 (name, seconds))
        except sqlite3.DatabaseError:
            pass  # the history is advisory; a run never fails for it


def measured_terms(job: Job, outcome: Outcome) -> dict[str, float]:
    """The per-image terms a finished job measured: an evaluation its stack's purification, an oblivious craft
    on the classifier alone its gradient pass."""
    task = job.task
    if isinstance(task, EvaluateTask) and outcome.result is not None and task.labels.n:
        ref = task.classifier
        return {stack_term(ref.dataset, ref.arch, task.stack): outcome.result.purify_seconds / task.labels.n}
    if isinstance(task, CraftTask) and task.stack is None and task.threat.model == "oblivious" and task.n:
        passes = attack_passes(task.attack) * BUDGET_USED.get(task.attack.base, 1.0)
        return {grad_term(task.target.dataset, task.target.arch): outcome.seconds / (task.n * passes)}
    return {}


def computed(job: Job, outcome: Outcome) -> bool:
    """True when the job did its work rather than read a cached artifact."""
    if job.kind in (JobKind.EVALUATE, JobKind.AUDIT):  # never cached: they always do their work
        return True
    return any(outcome.details.get(flag) for flag in NOW_FLAGS)


class CostModel:
    def __init__(self, cache: ArtifactCache, scales: Mapping[str, DatasetScale], rates: Mapping[str, float],
                 terms: Mapping[str, float] | None = None) -> None:
        self.cache, self.rates = cache, rates
        self.terms = CostTerms(scales, terms or {})

    def estimate(self, job: Job) -> float:
        """Estimated seconds of ``job`` on one worker."""
        if is_cached(job, self.cache):
            return CACHED_SECONDS
        rate = self.rates.get(signature(job))
        if rate is not None:
            return rate * units(job)
        return self.prior(job)

    def prior(self, job: Job) -> float:
        """The per-kind model's seconds (``bench.cost_terms``), for a job unlike any recorded one."""
        return self.terms.seconds(job)

    def estimates(self, jobs: Iterable[Job]) -> dict[str, float]:
        return {job.key: self.estimate(job) for job in jobs}


def cost_model(cache: ArtifactCache, datasets: Mapping[str, Any]) -> CostModel:
    """The model for a plan's jobs: ``datasets`` are the plan's loaded splits, by name."""
    scales = {name: DatasetScale(int(d.train.x[0, 0].numel()), len(d.train)) for name, d in datasets.items()}
    history = CostHistory(cache.root)
    return CostModel(cache, scales, history.rates(), history.terms())
