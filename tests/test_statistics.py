"""Intervals and paired tests against scipy and published values, at n = 1 and at accuracies 0 and 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta, binomtest

from bench.statistics import accuracy_interval, flags_interval, mcnemar_p, paired_comparison


@pytest.mark.parametrize("correct,n", [(0, 1), (1, 1), (0, 150), (150, 150), (75, 150), (3, 7), (149, 150)])
def test_clopper_pearson_is_the_beta_quantiles(correct, n):
    interval = accuracy_interval(correct, n)
    low = 0.0 if correct == 0 else beta.ppf(0.025, correct, n - correct + 1)
    high = 1.0 if correct == n else beta.ppf(0.975, correct + 1, n - correct)
    assert interval.value == correct / n and interval.n == n
    assert interval.low == pytest.approx(low, abs=1e-9) and interval.high == pytest.approx(high, abs=1e-9)


def test_published_values_and_the_edges():
    assert accuracy_interval(0, 10).high == pytest.approx(0.3085, abs=1e-4)  # the classic "rule of three" table value
    five = accuracy_interval(5, 10)
    assert (five.low, five.high) == pytest.approx((0.1871, 0.8129), abs=1e-4)
    one_wrong, one_right = accuracy_interval(0, 1), accuracy_interval(1, 1)
    assert (one_wrong.low, one_wrong.high) == pytest.approx((0.0, 0.975)) and (one_right.low, one_right.high) == pytest.approx((0.025, 1.0))
    assert accuracy_interval(0, 150).low == 0.0 and accuracy_interval(150, 150).high == 1.0
    assert math.isnan(accuracy_interval(0, 0).value)
    with pytest.raises(ValueError):
        accuracy_interval(3, 2)
    assert flags_interval(np.array([True, False, True, True])) == accuracy_interval(3, 4)


@pytest.mark.parametrize("only_a,only_b", [(1, 6), (6, 1), (0, 5), (10, 10), (3, 12), (1, 0)])
def test_mcnemar_is_the_binomial_test_of_the_discordant_pairs(only_a, only_b):
    assert mcnemar_p(only_a, only_b) == pytest.approx(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def test_mcnemar_known_values():
    assert mcnemar_p(1, 6) == pytest.approx(2 * (1 + 7) / 128)  # 2 P(X <= 1), X ~ Bin(7, 1/2)
    assert mcnemar_p(0, 0) == 1.0  # no discordant pair: no evidence of a difference
    assert mcnemar_p(0, 1) == 1.0


def _pair(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([True] * both + [True] * only_a + [False] * only_b + [False] * neither)
    b = np.array([True] * both + [False] * only_a + [True] * only_b + [False] * neither)
    return a, b


def test_paired_difference_counts_and_p():
    a, b = _pair(40, 12, 3, 45)
    paired = paired_comparison(a, b)
    assert (paired.only_a, paired.only_b, paired.n) == (12, 3, 100)
    assert paired.difference == pytest.approx(0.09) and paired.low < 0.09 < paired.high
    assert paired.p_value == pytest.approx(binomtest(12, 15, 0.5).pvalue) and paired.significant
    assert 0 < paired.low  # significant by McNemar, and the interval excludes 0 too
    same = paired_comparison(a, a)
    assert same.difference == 0 and same.p_value == 1.0 and not same.significant


def test_paired_interval_at_the_edges():
    ones = np.ones(150, dtype=bool)
    paired = paired_comparison(ones, ones)  # both at 100%: the difference is 0, yet n = 150 cannot rule out a small one
    assert paired.difference == 0 and paired.low == pytest.approx(-paired.high) and paired.high > 0
    single = paired_comparison(np.array([True]), np.array([False]))
    assert single.difference == 1 and -1 <= single.low < 1 and single.high == 1 and single.p_value == 1.0
    zeros = np.zeros(150, dtype=bool)
    opposite = paired_comparison(ones, zeros)
    assert opposite.difference == 1 and opposite.low > 0.9 and opposite.high == 1
    with pytest.raises(ValueError):
        paired_comparison(ones, ones[:10])


def test_paired_interval_covers_the_true_difference():
    """Simulated pairs with a known difference of 0.1: the 95% interval covers it at least about 95% of the time."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        cell = rng.choice(4, size=150, p=[0.4, 0.2, 0.1, 0.3])  # both, only a, only b, neither
        paired = paired_comparison(np.isin(cell, (0, 1)), np.isin(cell, (0, 2)))
        hits += paired.low <= 0.1 <= paired.high
    assert hits / 400 >= 0.93
