"""What one audit check concludes: a verdict, the number measured, the threshold it was read against, and why.

Every check returns ``CheckResult`` rows; the results store keeps them in its
``audit`` table, and ``bench.auditing.frame`` turns them (with the per-stack
``overall`` row) into the table users see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from bench.choice import Choice

OVERALL = "overall"


class Verdict(Choice):
    PASS = "pass"
    WARN = "warn"  # suspicious, not disqualifying on its own
    FAIL = "fail"  # the evaluation of this stack is unreliable until the remedy is applied
    SKIPPED = "skipped"  # the check does not apply here, or its inputs are missing (the evidence says which)


@dataclass(frozen=True)
class CheckResult:
    check: str
    verdict: Verdict
    value: float
    threshold: float
    evidence: str  # one sentence: what was measured and, when not a pass, the remedy

    def row(self) -> dict[str, Any]:
        return {"check": self.check, "verdict": self.verdict.value, "value": self.value, "threshold": self.threshold,
                "evidence": self.evidence}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "CheckResult":
        def number(v: Any) -> float:
            return math.nan if v is None else float(v)

        return cls(row["check"], Verdict(row["verdict"]), number(row["value"]), number(row["threshold"]), row["evidence"])


def skipped(check: str, why: str) -> CheckResult:
    return CheckResult(check, Verdict.SKIPPED, math.nan, math.nan, why)


def graded(value: float, fail_above: float, warn_above: float = 0.0) -> Verdict:
    """Fail above ``fail_above``, warn above ``warn_above``, pass otherwise (a share or a distance: larger is worse)."""
    if math.isnan(value):
        return Verdict.SKIPPED
    if value > fail_above:
        return Verdict.FAIL
    return Verdict.WARN if value > warn_above else Verdict.PASS


#: How bad each verdict is, for choosing the worst of several attacks' results of one check.
SEVERITY = {Verdict.SKIPPED: 0, Verdict.PASS: 1, Verdict.WARN: 2, Verdict.FAIL: 3}


def worst_per_check(by_attack: Sequence[tuple[str, Sequence[CheckResult]]]) -> list[CheckResult]:
    """Per check, the result of the attack it judges worst (then the larger value), the others' verdicts in its evidence.

    ``by_attack``: (what the evidence calls the attack, its results), each attack giving the same checks in one order.
    """
    if len(by_attack) == 1:
        name, results = by_attack[0]
        return [CheckResult(r.check, r.verdict, r.value, r.threshold, f"{name}: {r.evidence}") for r in results]
    merged = []
    for results in zip(*(results for _, results in by_attack)):
        named = list(zip((name for name, _ in by_attack), results))
        name, worst = max(named, key=lambda pair: (SEVERITY[pair[1].verdict],
                                                   -math.inf if math.isnan(pair[1].value) else pair[1].value))
        measured, _, remedy = worst.evidence.partition("; ")
        others = ", ".join(f"{other}: {r.verdict.value}" + ("" if math.isnan(r.value) else f" at {r.value:.3g}")
                           for other, r in named if other != name)
        evidence = f"{name}: {measured} ({others})" + (f"; {remedy}" if remedy else "")
        merged.append(CheckResult(worst.check, worst.verdict, worst.value, worst.threshold, evidence))
    return merged
