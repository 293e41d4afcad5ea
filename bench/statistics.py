"""Intervals and paired tests for accuracies measured on n examples.

- An accuracy's 95% interval is Clopper-Pearson's (``scipy.stats.binomtest``'s
  exact interval): its coverage is guaranteed at every n, including n = 1 and
  accuracies of 0 and 1, where the normal approximation collapses to a point.
- Two accuracies measured on the same examples (a defense against ``none``,
  an adaptive attack against the oblivious one) are compared by the exact
  McNemar test: a two-sided binomial test of the discordant pairs against 1/2.
- Their difference gets a MOVER interval (Zou and Donner; Newcombe's method
  for paired proportions) built from the two Clopper-Pearson intervals and the
  correlation of the paired flags, so it stays inside [-1, 1] and is never a
  single point unless both accuracies are certain.

Accuracies here are fractions in [0, 1]; tables multiply by 100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

LEVEL = 0.95
SIGNIFICANCE = 0.05  # a paired difference with p below this is called significant


@dataclass(frozen=True)
class Interval:
    """An accuracy with its interval (fractions); NaN everywhere for n = 0."""

    value: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class PairedComparison:
    """``a`` against ``b`` on the same n examples: difference a - b, its interval, the exact McNemar p-value."""

    difference: float
    low: float
    high: float
    p_value: float
    only_a: int  # examples ``a`` gets right and ``b`` wrong
    only_b: int
    n: int

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE


def accuracy_interval(correct: int, n: int, level: float = LEVEL) -> Interval:
    """``correct`` of ``n`` with its Clopper-Pearson interval."""
    if n < 0 or not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n, got correct={correct}, n={n}")
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=level, method="exact")
    return Interval(correct / n, float(ci.low), float(ci.high), int(n))


def flags_interval(flags: np.ndarray, level: float = LEVEL) -> Interval:
    """The accuracy of per-example correct flags, with its interval."""
    flags = np.asarray(flags, dtype=bool)
    return accuracy_interval(int(flags.sum()), len(flags), level)


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact McNemar: the two-sided binomial p-value of the discordant pairs (1.0 when there are none)."""
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    return float(binomtest(int(only_a), int(discordant), 0.5).pvalue)


def paired_comparison(a: np.ndarray, b: np.ndarray, level: float = LEVEL) -> PairedComparison:
    """Accuracy of flags ``a`` minus that of ``b`` (same examples, same order), its interval and McNemar's p."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired flags must be two vectors of one length, got shapes {a.shape} and {b.shape}")
    n = len(a)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if n == 0:
        return PairedComparison(math.nan, math.nan, math.nan, math.nan, 0, 0, 0)
    ia, ib = flags_interval(a, level), flags_interval(b, level)
    phi = _phi(int((a & b).sum()), only_a, only_b, int((~a & ~b).sum()))
    difference = ia.value - ib.value
    below_a, above_a = ia.value - ia.low, ia.high - ia.value
    below_b, above_b = ib.value - ib.low, ib.high - ib.value
    low = difference - math.sqrt(max(below_a**2 - 2 * phi * below_a * above_b + above_b**2, 0.0))
    high = difference + math.sqrt(max(above_a**2 - 2 * phi * above_a * below_b + below_b**2, 0.0))
    return PairedComparison(difference, max(low, -1.0), min(high, 1.0), mcnemar_p(only_a, only_b), only_a, only_b, n)


def _phi(both: int, only_a: int, only_b: int, neither: int) -> float:
    """The correlation of the paired flags (0 where a margin is empty and it is undefined)."""
    denominator = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    if denominator == 0:
        return 0.0
    return (both * neither - only_a * only_b) / math.sqrt(denominator)
