"""Check (c): orderings every sound evaluation obeys (Carlini et al. 2019), on the audit's own attacks.

Each compares two accuracies on the same examples, one of which a stronger
attacker can always reach: an unbounded attack must reach chance or below;
accuracy must not rise with eps; more steps and restarts must not lower it
beyond the interval of the default attack (else that attack was
under-optimised, by the drop); a black-box attack must not beat the
white-box one; a transfer attack must not beat the adaptive one; an adaptive
attack must not leave more accuracy than the oblivious one.  A difference
inside the 95% interval of the accuracy it is compared with is noise and
passes; beyond it the check fails.  That interval (``bench.statistics``) is
the only threshold here: it encodes the sampling noise of n examples, not a
tuned margin; "chance" is 1 / the number of classes.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from bench.statistics import flags_interval
from bench.auditing.verdicts import CheckResult, Verdict


def _acc(flags: np.ndarray) -> float:
    return float(np.mean(flags)) if len(flags) else math.nan


def _ci(flags: np.ndarray) -> tuple[float, float]:
    interval = flags_interval(flags)
    return interval.low, interval.high


def not_above(check: str, stronger: np.ndarray, weaker: np.ndarray, what: str, remedy: str) -> CheckResult:
    """The stronger attacker's accuracy must not exceed the weaker's beyond the weaker's interval."""
    strong, weak = _acc(stronger), _acc(weaker)
    high = _ci(weaker)[1]
    excess = 100 * (strong - weak)
    verdict = Verdict.FAIL if strong > high else Verdict.PASS
    text = f"{what}: {100 * strong:.1f}% against {100 * weak:.1f}% (interval up to {100 * high:.1f}%)"
    return CheckResult(check, verdict, excess, 100 * (high - weak), text + (f"; {remedy}" if verdict is not Verdict.PASS else ""))


def unbounded(flags: np.ndarray, chance: float, eps: float) -> CheckResult:
    """An attack allowed the whole image range leaves at most chance accuracy."""
    acc, (low, _) = _acc(flags), _ci(flags)
    verdict = Verdict.FAIL if low > chance else Verdict.PASS
    text = (f"the adaptive attack at eps {eps:g} (the whole image range) leaves {100 * acc:.1f}% accuracy "
            f"(interval from {100 * low:.1f}%), chance is {100 * chance:.1f}%")
    remedy = "; the attack cannot even reach other classes: its gradient path is broken (check gradients, use BPDA)"
    return CheckResult("unbounded", verdict, 100 * acc, 100 * chance, text + (remedy if verdict is not Verdict.PASS else ""))


def eps_monotone(by_eps: Sequence[tuple[float, np.ndarray]]) -> CheckResult:
    """Accuracy must not rise from one eps to a larger one (beyond the smaller eps's interval)."""
    by_eps = sorted(by_eps, key=lambda pair: pair[0])
    worst, worst_pair, limit = -math.inf, None, math.nan
    for (e1, f1), (e2, f2) in zip(by_eps, by_eps[1:]):
        rise = 100 * (_acc(f2) - _acc(f1))
        if rise > worst:
            worst, worst_pair, limit = rise, (e1, e2, f1, f2), 100 * (_ci(f1)[1] - _acc(f1))
    if worst_pair is None:
        return CheckResult("eps_monotone", Verdict.SKIPPED, math.nan, math.nan, "needs accuracies at two eps at least")
    e1, e2, f1, f2 = worst_pair
    verdict = Verdict.FAIL if worst > limit else Verdict.PASS
    accs = ", ".join(f"{100 * _acc(f):.1f}% at {e:g}" for e, f in by_eps)
    text = f"adaptive accuracy by eps: {accs}"
    if verdict is not Verdict.PASS:
        text += (f"; it rises by {worst:.1f} points from eps {e1:g} to {e2:g}, so the attack is failing at the larger eps "
                 "(gradient masking or a step size tied to eps): run more steps, or BPDA")
    return CheckResult("eps_monotone", verdict, worst, limit, text)


def more_effort(default: np.ndarray, stronger: np.ndarray, steps: int, restarts: int) -> CheckResult:
    """More steps and restarts must not lower accuracy beyond the default attack's interval (else: under-optimised)."""
    base, more = _acc(default), _acc(stronger)
    low = _ci(default)[0]
    drop = 100 * (base - more)
    verdict = Verdict.FAIL if more < low else Verdict.PASS
    text = (f"with {steps} steps and {restarts} restarts the adaptive attack leaves {100 * more:.1f}% against "
            f"{100 * base:.1f}% (interval from {100 * low:.1f}%)")
    if verdict is not Verdict.PASS:
        text += (f"; the default attack is under-optimised by {drop:.1f} points: raise attack_params.pgd.steps and "
                 "restarts until the accuracy stops falling")
    return CheckResult("more_effort", verdict, drop, 100 * (base - low), text)


def adaptive_vs_oblivious(adaptive: np.ndarray, oblivious: np.ndarray, attacks: str = "adaptive PGD") -> CheckResult:
    """``attacks``: what ``adaptive`` holds (per example, the worse of the adaptive attacks named)."""
    return not_above("adaptive_vs_oblivious", adaptive, oblivious, f"{attacks} against oblivious PGD",
                     "the attack that sees the defense does worse than the one that ignores it: its gradient through the "
                     "defense misleads it (declare differentiable = False for BPDA, or randomized = True for EOT)")


def blackbox_vs_whitebox(square: np.ndarray, whitebox: np.ndarray, attacks: str = "adaptive PGD") -> CheckResult:
    """``whitebox``: per example, the worse of the white-box attacks ``attacks`` names (and the more-effort PGD)."""
    return not_above("blackbox_vs_whitebox", whitebox, square, f"white-box {attacks} against black-box Square",
                     "a score-based attack without gradients does better than the gradient attack: the gradients are "
                     "masked; use BPDA or unrolled gradients, and report the black-box number")


def transfer_vs_adaptive(transfer: np.ndarray, adaptive: np.ndarray, source: str, attacks: str = "adaptive PGD") -> CheckResult:
    return not_above("transfer_vs_adaptive", adaptive, transfer, f"{attacks} against transfer from {source}",
                     "a transferred attack does better than the adaptive one: the adaptive gradient is masked; use BPDA "
                     "or unrolled gradients")
