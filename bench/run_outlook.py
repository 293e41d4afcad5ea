"""What a dry run says beyond the plan: what the cache already holds and how long the rest should take."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from bench.cache import ArtifactCache
from bench.jobs import JobKind
from bench.plan import Plan
from bench.run_costs import CostModel, cost_model, is_cached, signature
from bench.run_progress import clock_text
from bench.run_schedule import Schedule

KIND_NOUNS = {JobKind.TRAIN: "trainings", JobKind.FIT: "defense fits", JobKind.CRAFT: "adversarial sets"}


def outlook(plan: Plan, done: Iterable[str], cache: ArtifactCache, workers: int) -> str:
    """Cached artifacts among the jobs still to run, and the estimated time of those jobs on ``workers`` workers."""
    model = cost_model(cache, plan.datasets)
    schedule = Schedule(plan.ordered(), done, model.estimates(plan.ordered()))
    jobs = list(schedule.pending.values())
    cached = Counter(job.kind for job in jobs if is_cached(job, cache))
    kinds = Counter(job.kind for job in jobs)
    held = [f"{cached[kind]} of {kinds[kind]} {noun}" for kind, noun in KIND_NOUNS.items() if kinds[kind]]
    lines = [f"cache {cache.root}: holds {', '.join(held)} (those jobs only read them back)" if held else
             f"cache {cache.root}: nothing to train, fit or craft"]
    total = sum(schedule.costs.values())
    chain = max(schedule.path_cost.values(), default=0.0)
    wall = max(chain, total / max(workers, 1))
    lines.append(f"estimated: {clock_text(total)} of work, about {clock_text(wall)} wall on {workers} worker(s) "
                 f"(longest chain of dependent jobs {clock_text(chain)}; {_sources(model, jobs, cache)})")
    return "\n".join(lines)


def _sources(model: CostModel, jobs: list, cache: ArtifactCache) -> str:
    recorded = sum(1 for job in jobs if not is_cached(job, cache) and signature(job) in model.rates)
    prior = sum(1 for job in jobs if not is_cached(job, cache)) - recorded
    return f"{recorded} from recorded costs of similar jobs, {prior} from the per-kind cost model"
