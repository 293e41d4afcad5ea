"""Speed-up of the parallel local executor: one matrix, cold, with ``--workers 1`` and ``--workers N`` in the same run.

    OMP_NUM_THREADS=1 python benchmarks/workers_speedup.py [--spec configs/quick.toml] [--workers 1,2] [--repeats 1] [--record]
    OMP_NUM_THREADS=1 python benchmarks/workers_speedup.py --small        # a two-minute matrix, to see it work

Each run is ``run_bench.py run SPEC --workers W`` in a subprocess with an
empty artifact cache and a new results database of its own, so every run
trains, fits, crafts and evaluates the whole matrix.  Runs alternate between
worker counts for ``--repeats`` rounds, so a load change on a shared machine
touches each.  Per run: wall time, the CPU time of the run and all its worker
processes, and CPU utilisation = CPU / (wall x cores).  The per-example flags
of every run are compared with the first one's: they must be identical (the
spec must set ``threads``; the main job's sets 1).  ``--record`` writes the
table, the command and the machine into the "Parallel workers" section of
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from recording import command_line, machine, record_section

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Parallel workers"
SMALL_SPEC = """
name = "speedup-small"
n = 60
device = "cpu"
threads = 1
recipes = ["natural", "madry"]
defenses = ["none", "aid"]
attacks = ["pgd", "mim", "deepfool"]
threats = ["oblivious"]
[recipe_params.natural]
epochs = 1
[recipe_params.madry]
epochs = 1
[defense_params.aid]
epochs = 1
train_steps = 3
[attack_params.pgd]
steps = 10
[attack_params.mim]
steps = 10
"""


@dataclass(frozen=True)
class Measurement:
    workers: int
    wall: float
    cpu: float
    flags: dict[str, tuple[bytes, bytes]]
    jobs: int


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def flags(db: Path) -> dict[str, tuple[bytes, bytes]]:
    conn = sqlite3.connect(db)
    try:
        return {key: (a, b) for key, a, b in conn.execute("SELECT job_key, correct, correct_undefended FROM flags")}
    finally:
        conn.close()


def done_jobs(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM jobs WHERE status = 'done'").fetchone()[0]
    finally:
        conn.close()


def run_once(spec: Path, workers: int, extra: list[str], scratch: Path) -> Measurement:
    """One cold run of ``spec`` with ``workers`` workers, in a fresh cache and database."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"workers{workers}-", dir=scratch))
    db = run_dir / "results.sqlite"
    env = {**os.environ, "PUREBENCH_CACHE": str(run_dir / "cache"), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.pop("PUREBENCH_WORKERS", None)
    command = [sys.executable, "run_bench.py", "run", str(spec), "--results", str(db), "--workers", str(workers), *extra]
    cpu, begin = children_cpu(), time.perf_counter()
    out = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall, cpu = time.perf_counter() - begin, children_cpu() - cpu
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return Measurement(workers, wall, cpu, flags(db), done_jobs(db))


def table(measurements: list[Measurement], cores: int) -> str:
    baseline = min(m.wall for m in measurements if m.workers == min(x.workers for x in measurements))
    lines = ["| workers | round | wall s | CPU s (run + workers) | CPU utilisation | speed-up (wall) | jobs |",
             "|---|---|---|---|---|---|---|"]
    rounds: dict[int, int] = {}
    for m in measurements:
        rounds[m.workers] = rounds.get(m.workers, 0) + 1
        lines.append(f"| {m.workers} | {rounds[m.workers]} | {m.wall:.1f} | {m.cpu:.1f} | {m.cpu / (m.wall * cores):.0%} | "
                     f"{baseline / m.wall:.2f}x | {m.jobs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=REPO / "configs" / "quick.toml", help="the matrix (default: the main job's)")
    parser.add_argument("--small", action="store_true", help="a small built-in matrix instead of --spec (about 2 minutes)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare, comma-separated (default 1,2)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds over the worker counts (default 1)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to run_bench.py run")
    parser.add_argument("--record", action="store_true", help="write the results into benchmarks/README.md")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    cores = os.cpu_count() or 1
    extra = [a for s in args.set for a in ("--set", s)]
    with tempfile.TemporaryDirectory(prefix="purebench-speedup-") as scratch:
        spec = args.spec
        if args.small:
            spec = Path(scratch) / "speedup-small.toml"
            spec.write_text(SMALL_SPEC)
        measurements = []
        for round_ in range(args.repeats):
            order = counts if round_ % 2 == 0 else counts[::-1]
            for workers in order:
                measurements.append(run_once(spec, workers, extra, Path(scratch)))
                print(f"workers {workers}: {measurements[-1].wall:.1f} s wall, {measurements[-1].cpu:.1f} s CPU", flush=True)
    identical = all(m.flags == measurements[0].flags for m in measurements)
    text = table(measurements, cores)
    best = {w: min(m.wall for m in measurements if m.workers == w) for w in counts}
    speedups = ", ".join(f"{w} workers {best[counts[0]] / best[w]:.2f}x" for w in counts[1:])
    summary = (f"Best wall time per worker count: {', '.join(f'{w}: {best[w]:.1f} s' for w in counts)}; speed-up over "
               f"{counts[0]} worker(s): {speedups}.  Per-example flags identical across all runs: {identical} "
               f"({len(measurements[0].flags)} results).  Each run cold: empty artifact cache, new database.")
    print(text)
    print(summary)
    if not identical:
        raise SystemExit("per-example flags differ between worker counts")
    if args.record:
        matrix = "a small built-in matrix (`--small`)" if args.small else f"`{args.spec.relative_to(REPO) if args.spec.is_absolute() else args.spec}`"
        record_section(HEADING, f"`{command_line()}` ({datetime.date.today()}; {machine()}); matrix: {matrix}\n\n"
                                f"{text}\n\n{summary}\n")
        print("recorded in benchmarks/README.md")


if __name__ == "__main__":
    main()
