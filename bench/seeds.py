"""Aggregating a stack's numbers across the seeds of a ``seeds = [...]`` spec: mean, standard deviation, interval.

Each seed trains its own classifier, fits its own defenses and draws its own
attack randomness, so the spread across seeds is the run-to-run variation a
paper should report.  The interval is Student's t over the seeds (95%, k - 1
degrees of freedom): it speaks of the mean over seeds, while each seed's own
Clopper-Pearson interval (``bench.worst``) speaks of its n test examples.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import t

from bench.statistics import LEVEL

GROUP = ("dataset", "arch", "recipe", "defense")
MEASURES = ("clean", "worst", "worst_column", "worst_paper")


def mean_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float, float]:
    """(mean, standard deviation, low, high) of per-seed values; NaN spread and interval for a single seed."""
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return (math.nan,) * 4
    mean = float(values.mean())
    if len(values) == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(values.std(ddof=1))
    half = float(t.ppf(0.5 + level / 2, len(values) - 1)) * std / math.sqrt(len(values))
    return mean, std, mean - half, mean + half


def across_seeds(stacks: pd.DataFrame) -> pd.DataFrame:
    """``bench.worst.stack_worst`` rows of several seeds -> one row per (dataset, arch, recipe, defense).

    Columns: ``seeds`` (how many), ``per_seed`` (``seed: worst`` pairs, as text) and, for each of
    clean, worst, worst_column and worst_paper, ``_mean``, ``_std``, ``_ci_low`` and ``_ci_high``.
    """
    rows = []
    for key, group in stacks.groupby(list(GROUP), sort=False):
        row = {**dict(zip(GROUP, key)), "seeds": group["seed"].nunique(),
               "per_seed": ", ".join(f"{s}: {w:.2f}" for s, w in zip(group["seed"], group["worst"]))}
        for measure in MEASURES:
            mean, std, low, high = mean_interval(group[measure].to_numpy())
            row.update({f"{measure}_mean": mean, f"{measure}_std": std, f"{measure}_ci_low": low, f"{measure}_ci_high": high})
        rows.append(row)
    return pd.DataFrame(rows)
