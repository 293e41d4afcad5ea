"""The two worst cases of a row of Table 3.

- Worst (paper): the minimum accuracy over the columns Clean, PGD, C&W, DF and
  MIM, as in Table 3 of the AID-Purifier paper;
- Worst (per example): the fraction of examples classified correctly under
  every column of the row, clean included (the AutoAttack/RobustBench
  convention). It is never above the minimum of the same columns, and is
  lower whenever different attacks break different examples.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from bench.report.names import PAPER_WORST_BASES


def paper_worst(accuracy_by_base: Mapping[str, float]) -> float:
    """Minimum over the paper's columns present (NaN when none is)."""
    values = [v for base, v in accuracy_by_base.items() if base in PAPER_WORST_BASES and not math.isnan(v)]
    return min(values) if values else math.nan


def per_example_worst(flags: Sequence[np.ndarray]) -> float:
    """Fraction of examples correct in every flag vector (NaN without flags or when their lengths differ)."""
    if not flags or len({len(f) for f in flags}) != 1 or len(flags[0]) == 0:
        return math.nan
    return float(np.logical_and.reduce([np.asarray(f, dtype=bool) for f in flags]).mean())


def gain(value: float, baseline: float) -> tuple[float, float]:
    """Improvement over ``baseline`` in points and in percent of the baseline (NaN percent from a zero baseline)."""
    if math.isnan(value) or math.isnan(baseline):
        return math.nan, math.nan
    points = value - baseline
    return points, (100.0 * points / baseline if baseline > 0 else math.nan)
