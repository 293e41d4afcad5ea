"""How well the cost model's estimates hold: per job kind, estimated vs recorded CPU seconds of a finished run.

    OMP_NUM_THREADS=1 python benchmarks/cost_estimates.py --spec configs/quick.toml --results results/quick.sqlite

The spec is planned again and each job estimated as a first run would (an
empty artifact cache and no cost history: the per-kind model alone), then
matched with the run's recorded jobs by key (else by a unique label) (``details_json.cpu_seconds``
of each job that did its work).  The results database is only read.  The
rank correlation says whether the estimates order jobs as their costs do
(what the schedule needs); the totals say whether the ETA holds.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from scipy.stats import spearmanr

from bench.cache import ArtifactCache
from bench.plan import build_plan
from bench.run_costs import NOW_FLAGS, cost_model
from bench.spec import load_spec


def recorded_cpu(results: Path) -> dict[str, tuple[str, float]]:
    """key and label -> (kind, CPU seconds) of the jobs that did their work (not read from the cache)."""
    conn = sqlite3.connect(f"file:{results}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT key, kind, label, details_json FROM jobs WHERE status = 'done'").fetchall()
    finally:
        conn.close()
    out, labels = {}, Counter(label for _, _, label, _ in rows)
    for key, kind, label, details_json in rows:
        details = json.loads(details_json or "{}")
        cached = kind in ("train", "fit", "craft") and not any(details.get(flag) for flag in NOW_FLAGS)
        if "cpu_seconds" in details and not cached:
            out[key] = (kind, float(details["cpu_seconds"]))
            if labels[label] == 1:  # a run of older code keys jobs differently: match those by a unique label
                out[label] = out[key]
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
        by_key = {job.key: (job.kind.value, model.estimate(job)) for job in plan.ordered()}
    unique = Counter(job.label for job in plan.ordered())
    names = {job.key: job.label for job in plan.ordered()}
    recorded_all = recorded_cpu(args.results)
    estimates, recorded = {}, {}
    for key, estimate in by_key.items():
        found = recorded_all.get(key) or (recorded_all.get(names[key]) if unique[names[key]] == 1 else None)
        if found is not None:
            estimates[key], recorded[key] = estimate, found
    matched = sorted(recorded)
    by_kind: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for key in matched:
        row = by_kind[recorded[key][0]]
        row[0] += 1
        row[1] += estimates[key][1]
        row[2] += recorded[key][1]
    planned: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for kind, seconds in by_key.values():
        planned[kind][0] += 1
        planned[kind][1] += seconds
    print("planned, as a first run estimates them: " + ", ".join(
        f"{kind} {jobs} jobs {seconds:.0f} s" for kind, (jobs, seconds) in sorted(planned.items()))
        + f"; total {sum(p[1] for p in planned.values()):.0f} s")
    print(f"{len(matched)} of the {len(by_key)} planned jobs matched a recorded job that did its work (by key, "
          "else by a unique label)")
    print(f"{'kind':<10}{'jobs':>6}{'estimated s':>14}{'recorded CPU s':>16}{'ratio':>8}")
    for kind, (jobs, estimated, actual) in sorted(by_kind.items()):
        print(f"{kind:<10}{jobs:>6}{estimated:>14.1f}{actual:>16.1f}{estimated / max(actual, 1e-9):>8.2f}")
    total_e, total_r = sum(r[1] for r in by_kind.values()), sum(r[2] for r in by_kind.values())
    print(f"{'all':<10}{len(matched):>6}{total_e:>14.1f}{total_r:>16.1f}{total_e / max(total_r, 1e-9):>8.2f}")
    if len(matched) > 2:
        rho = spearmanr([estimates[k][1] for k in matched], [recorded[k][1] for k in matched]).statistic
        print(f"rank correlation of per-job estimates with recorded CPU seconds: {rho:.2f}")
    worst = sorted(matched, key=lambda k: -abs(estimates[k][1] - recorded[k][1]))[: args.worst]
    for key in worst:
        print(f"  est {estimates[key][1]:9.1f} s  recorded {recorded[key][1]:9.1f} s  {names[key]}")


if __name__ == "__main__":
    main()
