"""The 95% interval of an accuracy from n examples (Wilson's score interval, through scipy)."""

from __future__ import annotations

import math

from scipy.stats import binomtest

CONFIDENCE = 0.95


def wilson(correct: int, n: int) -> tuple[float, float]:
    """(low, high) of the accuracy ``correct / n``; (nan, nan) for n = 0."""
    if n <= 0:
        return math.nan, math.nan
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)
