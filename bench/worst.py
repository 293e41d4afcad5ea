"""One definition of a defense stack's worst case, for every surface (terminal, report, exports, frames, compare).

- **Worst**, unqualified: over every result that ran against the stack (the
  clean inputs, every attack, threat model, lambda and transfer source, each
  attack at its main eps), per example: the percentage of examples correct in
  all of them, and on every draw of a randomized stack (the AutoAttack and
  RobustBench convention).  It carries a Clopper-Pearson interval.
- **Worst (column minimum)**: the lowest accuracy among those results; never
  below the per-example worst, and above it whenever different attacks break
  different examples.
- **Worst (paper columns)**: the minimum over Clean, PGD, C&W, DF and MIM under
  the oblivious threat, as the AID-Purifier paper's Table 3 computes it; only
  tables that reproduce that table show it, labelled as such.

An attack run at several eps counts at its main eps, the one most stacks
share (on a tie the largest, so a worst case is never flattered); the other
eps belong to the eps sweep.  Accuracies here are percentages; the stored
flags are booleans, one row per draw.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from attacks.threats import Role, role_of
from bench.jobs import CLEAN
from bench.statistics import flags_interval, paired_comparison

NONE_STACK = "none"
DONE = "done"
PAPER_WORST_BASES = frozenset({"clean", "pgd", "cw", "deepfool", "mim"})  # Table 3's "Worst": Clean, PGD, C&W, DF, MIM
CLASSIFIER_KEYS = ("dataset", "arch", "recipe", "seed")
STACK_KEYS = (*CLASSIFIER_KEYS, "defense")

Flags = Mapping[str, np.ndarray]  # job key -> bool (draws, n): one row per draw, a single row when deterministic


def paper_worst(accuracy_by_base: Mapping[str, float]) -> float:
    """Minimum over the paper's columns present (NaN when none is)."""
    values = [v for base, v in accuracy_by_base.items() if base in PAPER_WORST_BASES and not math.isnan(v)]
    return min(values) if values else math.nan


def survivors(flags: Sequence[np.ndarray]) -> np.ndarray | None:
    """Examples correct in every flag array, on every draw (None without flags or when their lengths differ)."""
    vectors = [np.asarray(f, dtype=bool).reshape(-1, np.shape(f)[-1]).all(axis=0) for f in flags]
    if not vectors or len({len(v) for v in vectors}) != 1 or len(vectors[0]) == 0:
        return None
    return np.logical_and.reduce(vectors)


def per_example_worst(flags: Sequence[np.ndarray]) -> float:
    """Percentage of examples correct in every flag array (NaN without flags or when their lengths differ)."""
    alive = survivors(flags)
    return math.nan if alive is None else 100 * float(alive.mean())


def mean_over_draws(flags: Sequence[np.ndarray]) -> float:
    """Percentage correct in every flag array, draw by draw, averaged over the draws (all arrays share one draw count)."""
    arrays = [np.asarray(f, dtype=bool).reshape(-1, np.shape(f)[-1]) for f in flags]
    if not arrays or len({a.shape for a in arrays}) != 1 or arrays[0].shape[1] == 0:
        return math.nan
    return 100 * float(np.logical_and.reduce(arrays).mean())


def gain(value: float, baseline: float) -> tuple[float, float]:
    """Improvement over ``baseline`` in points and in percent of the baseline (NaN percent from a zero baseline)."""
    if math.isnan(value) or math.isnan(baseline):
        return math.nan, math.nan
    points = value - baseline
    return points, (100.0 * points / baseline if baseline > 0 else math.nan)


def main_eps(results: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(dataset, attack) -> the eps evaluated for the most stacks (on a tie the largest)."""
    chosen = {}
    for key, group in results.groupby(["dataset", "attack"], sort=False):
        stacks = group.groupby("eps")[list(STACK_KEYS)].apply(lambda g: len(g.drop_duplicates()))
        chosen[key] = max(e for e, count in stacks.items() if count == stacks.max())
    return chosen


def counted(results: pd.DataFrame) -> pd.DataFrame:
    """The results a stack's worst case is taken over: every one, each attack at its main eps."""
    if results.empty:
        return results
    eps = main_eps(results)
    keep = [eps[(d, a)] == e for d, a, e in zip(results["dataset"], results["attack"], results["eps"])]
    return results[keep]


def _paper_by_base(rows: pd.DataFrame) -> dict[str, float]:
    """Table 3's columns of a stack: the baseline threat (oblivious), no transfer source; a variant counts only where its algorithm has no column."""
    baseline = [role_of(t) is Role.BASELINE for t in rows["threat_model"]]
    rows = rows[np.asarray(baseline, dtype=bool) & rows["source"].isna().to_numpy()]
    own = set(rows.loc[rows["attack"] == rows["attack_base"], "attack_base"])
    rows = rows[(rows["attack"] == rows["attack_base"]) | ~rows["attack_base"].isin(own)]
    return rows.groupby("attack_base")["accuracy"].min().mul(100).to_dict()


def stack_worst(results: pd.DataFrame, flags: Flags) -> pd.DataFrame:
    """One row per (dataset, arch, recipe, seed, defense): clean and worst accuracies (%), intervals, gain over none.

    ``results`` are store rows (``accuracy`` a fraction), done or not (a
    ``status`` column, default done); ``flags`` has the per-example flags of
    the done ones.  A stack with results missing gets ``complete`` False: its
    worst cases are upper bounds.  ``gain`` is the per-example worst minus that
    of ``none`` on the same classifier, in points, with its paired interval and
    the exact McNemar p-value of the two survivor vectors.
    """
    rows, alive = [], {}
    status = results["status"] if "status" in results else pd.Series(DONE, index=results.index)
    results = counted(results.assign(status=status))
    for key, group in results.groupby(list(STACK_KEYS), sort=False, dropna=False):
        done = group[(group["status"] == DONE) & group["job_key"].isin(flags.keys())]
        stack_flags = [flags[k] for k in done["job_key"]]
        clean = done[done["attack"] == CLEAN]
        clean_flags = [flags[k] for k in clean["job_key"]]
        alive[key] = survivors(stack_flags)
        worst = flags_interval(alive[key]) if alive[key] is not None else None
        clean_ci = flags_interval(survivors(clean_flags)) if clean_flags else None
        lowest = done.loc[done["accuracy"].idxmin()] if not done.empty else None
        attacked = done[done["attack"] != CLEAN]
        strongest = attacked.loc[attacked["accuracy"].idxmin()] if not attacked.empty else None  # the strongest attack
        rows.append({**dict(zip(STACK_KEYS, key)), "n": worst.n if worst else math.nan,
                     "draws": max((np.shape(f)[0] if np.ndim(f) == 2 else 1 for f in stack_flags), default=math.nan),
                     "results": len(done), "complete": len(done) == len(group),
                     "threats": ", ".join(sorted(set(done.loc[done["attack"] != CLEAN, "threat"]))),
                     "clean": _pct(clean_ci, "value"), "clean_ci_low": _pct(clean_ci, "low"),
                     "clean_ci_high": _pct(clean_ci, "high"), "clean_mean_draws": mean_over_draws(clean_flags),
                     "worst": _pct(worst, "value"), "worst_ci_low": _pct(worst, "low"), "worst_ci_high": _pct(worst, "high"),
                     "worst_mean_draws": mean_over_draws(stack_flags),
                     "worst_column": 100 * float(lowest["accuracy"]) if lowest is not None else math.nan,
                     "worst_column_result": _result_name(lowest) if lowest is not None else None,
                     "strongest_result": _result_name(strongest) if strongest is not None else None,
                     "strongest_job": strongest["job_key"] if strongest is not None else None,
                     "worst_paper": paper_worst(_paper_by_base(done))})
    frame = pd.DataFrame(rows)
    return _with_gains(frame, alive) if not frame.empty else frame


def _with_gains(frame: pd.DataFrame, alive: dict[tuple, np.ndarray | None]) -> pd.DataFrame:
    gains = []
    for record in frame.to_dict("records"):
        key = tuple(record[k] for k in STACK_KEYS)
        base = alive.get((*key[:-1], NONE_STACK))
        mine = alive.get(key)
        if key[-1] == NONE_STACK or base is None or mine is None or len(base) != len(mine):
            gains.append((math.nan,) * 4)
            continue
        paired = paired_comparison(mine, base)
        gains.append((100 * paired.difference, 100 * paired.low, 100 * paired.high, paired.p_value))
    return frame.assign(**{name: [g[i] for g in gains]
                           for i, name in enumerate(("gain", "gain_ci_low", "gain_ci_high", "gain_p"))})


def _pct(interval: object, field: str) -> float:
    return math.nan if interval is None else 100 * getattr(interval, field)


def _result_name(row: pd.Series) -> str:
    """``pgd/adaptive eps=0.3`` (with lambda and source where they apply); ``clean`` for the clean inputs."""
    if row["attack"] == CLEAN:
        return CLEAN
    text = f"{row['attack']}/{row['threat']} eps={row['eps']:g}"
    if row.get("lam") is not None and not pd.isna(row.get("lam")):
        text += f" lam={row['lam']:g}"
    if isinstance(row.get("source"), str):
        text += f" from {row['source']}"
    return text
