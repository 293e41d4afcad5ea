"""What a job will cost, in seconds of one worker: from what similar jobs cost before, or a per-kind model.

Three sources, best first:

1. The artifact cache already holds the job's artifact (a trained classifier,
   a fitted stage, an adversarial set): the job only reads it.
2. A similar job ran before on this machine: ``costs.sqlite`` in the artifact
   cache keeps, per *cost signature* (what determines the work, not the seed),
   the seconds per unit of work (per test example for crafts and evaluations,
   per job for training and fitting).  Every run adds what it measured.
3. Otherwise a per-kind prior measured on the main job (mnist5k, 2 cores, one
   thread each), scaled by image size and, for training and fitting, the size
   of the training split.  It is only an estimate; the second run knows better.

The schedule starts jobs on the longest estimated path first; the progress bar
and ``--dry-run`` weigh jobs by these estimates.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from bench.cache import ArtifactCache
from bench.hashing import content_key
from bench.jobs import AuditTask, CraftTask, EvaluateTask, FitTask, Job, JobKind, Outcome, Status, TrainTask

COSTS_FILE = "costs.sqlite"
CACHE_KINDS = {JobKind.TRAIN: "classifiers", JobKind.FIT: "defenses", JobKind.CRAFT: "advsets"}
CACHED_SECONDS = 0.5  # reading an artifact back and checking its checksum
# Seconds per unit on mnist5k (1x28x28, 4,000 training images), from benchmarks/README.md's main job:
# a 5-epoch adversarial training 55 s, a natural one 10 s, a defense fit 40 s, a PGD-40 craft 4.5 s and
# an evaluation 0.8 s for 150 examples.
# An audit part runs a few attacks of its own: counted as three PGD-40 crafts per example.
PRIORS = {JobKind.TRAIN: 40.0, JobKind.FIT: 40.0, JobKind.CRAFT: 0.03, JobKind.EVALUATE: 0.005, JobKind.AUDIT: 0.1}
PRIOR_PIXELS, PRIOR_TRAIN_SIZE = 28 * 28, 4000
NOW_FLAGS = ("trained_now", "fitted_now", "crafted_now", "imported_now")


@dataclass(frozen=True)
class DatasetScale:
    pixels: int  # C x H x W
    train_size: int


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


def dataset_of(job: Job) -> str:
    task = job.task
    return task.target.dataset if isinstance(task, CraftTask) else task.classifier.dataset


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
        return conn

    def rates(self) -> dict[str, float]:
        if not self.path.is_file():
            return {}
        try:
            with closing(self._connect()) as conn:
                return {sig: rate for sig, rate in conn.execute("SELECT signature, seconds_per_unit FROM costs")}
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
        except sqlite3.DatabaseError:
            pass  # the history is advisory; a run never fails for it


def computed(job: Job, outcome: Outcome) -> bool:
    """True when the job did its work rather than read a cached artifact."""
    if job.kind in (JobKind.EVALUATE, JobKind.AUDIT):  # never cached: they always do their work
        return True
    return any(outcome.details.get(flag) for flag in NOW_FLAGS)


class CostModel:
    def __init__(self, cache: ArtifactCache, scales: Mapping[str, DatasetScale], rates: Mapping[str, float]) -> None:
        self.cache, self.scales, self.rates = cache, scales, rates

    def estimate(self, job: Job) -> float:
        """Estimated seconds of ``job`` on one worker."""
        if is_cached(job, self.cache):
            return CACHED_SECONDS
        rate = self.rates.get(signature(job))
        if rate is not None:
            return rate * units(job)
        return self.prior(job)

    def prior(self, job: Job) -> float:
        scale = self.scales.get(dataset_of(job), DatasetScale(PRIOR_PIXELS, PRIOR_TRAIN_SIZE))
        factor = scale.pixels / PRIOR_PIXELS
        if job.kind in (JobKind.TRAIN, JobKind.FIT):
            factor *= scale.train_size / PRIOR_TRAIN_SIZE
        return PRIORS[job.kind] * units(job) * factor

    def estimates(self, jobs: Iterable[Job]) -> dict[str, float]:
        return {job.key: self.estimate(job) for job in jobs}


def cost_model(cache: ArtifactCache, datasets: Mapping[str, Any]) -> CostModel:
    """The model for a plan's jobs: ``datasets`` are the plan's loaded splits, by name."""
    scales = {name: DatasetScale(int(d.train.x[0].numel()), len(d.train)) for name, d in datasets.items()}
    return CostModel(cache, scales, CostHistory(cache.root).rates())
