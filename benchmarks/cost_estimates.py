"""How well the cost model's estimates hold: per job kind, estimated vs recorded CPU seconds of a finished run.

    OMP_NUM_THREADS=1 python benchmarks/cost_estimates.py --spec configs/quick.toml --results results/quick.sqlite

The spec is planned again and each job estimated as a first run would (an
empty artifact cache and no cost history: the per-kind model alone), then
matched by label with the run's recorded jobs (``details_json.cpu_seconds``
of each job that did its work).  The results database is only read.  The
rank correlation says whether the estimates order jobs as their costs do
(what the schedule needs); the totals say whether the ETA holds.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from collections import defaultdict
from pathlib import Path

from scipy.stats import spearmanr

from bench.cache import ArtifactCache
from bench.plan import build_plan
from bench.run_costs import NOW_FLAGS, cost_model
from bench.spec import load_spec


def recorded_cpu(results: Path) -> dict[str, tuple[str, float]]:
    """label -> (kind, CPU seconds) of the jobs that did their work (not read from the cache)."""
    conn = sqlite3.connect(f"file:{results}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT kind, label, details_json FROM jobs WHERE status = 'done'").fetchall()
    finally:
        conn.close()
    out = {}
    for kind, label, details_json in rows:
        details = json.loads(details_json or "{}")
        cached = kind in ("train", "fit", "craft") and not any(details.get(flag) for flag in NOW_FLAGS)
        if "cpu_seconds" in details and not cached:
            out[label] = (kind, float(details["cpu_seconds"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True)
    parser.add_argument("--results", required=True, type=Path)
    parser.add_argument("--worst", type=int, default=8, help="list this many jobs with the largest misestimates")
    args = parser.parse_args()
    plan = build_plan(load_spec(args.spec))
    with tempfile.TemporaryDirectory() as empty:
        model = cost_model(ArtifactCache(empty), plan.datasets)
        estimates = {job.label: (job.kind.value, model.estimate(job)) for job in plan.ordered()}
    recorded = recorded_cpu(args.results)
    matched = sorted(set(estimates) & set(recorded))
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for label in matched:
        row = by_kind[recorded[label][0]]
        row[0] += 1
        row[1] += estimates[label][1]
        row[2] += recorded[label][1]
    print(f"{len(matched)} of {len(recorded)} recorded jobs matched by label ({len(estimates)} planned)")
    print(f"{'kind':<10}{'jobs':>6}{'estimated s':>14}{'recorded CPU s':>16}{'ratio':>8}")
    for kind, (jobs, estimated, actual) in sorted(by_kind.items()):
        print(f"{kind:<10}{jobs:>6}{estimated:>14.1f}{actual:>16.1f}{estimated / max(actual, 1e-9):>8.2f}")
    total_e, total_r = sum(r[1] for r in by_kind.values()), sum(r[2] for r in by_kind.values())
    print(f"{'all':<10}{len(matched):>6}{total_e:>14.1f}{total_r:>16.1f}{total_e / max(total_r, 1e-9):>8.2f}")
    if len(matched) > 2:
        rho = spearmanr([estimates[l][1] for l in matched], [recorded[l][1] for l in matched]).statistic
        print(f"rank correlation of per-job estimates with recorded CPU seconds: {rho:.2f}")
    worst = sorted(matched, key=lambda l: -abs(estimates[l][1] - recorded[l][1]))[: args.worst]
    for label in worst:
        print(f"  est {estimates[label][1]:9.1f} s  recorded {recorded[label][1]:9.1f} s  {label}")


if __name__ == "__main__":
    main()
