"""The audit as a table: the stored check rows, the checks read from the results, and one ``overall`` row per stack.

The overall row carries the number the audit supports: the worst-case robust
accuracy of the stack, per example over every attack and threat that ran
against it (the results' flags and the audit's own attacks at its eps, on the
first examples they share: every split is stored in one fixed order), with
its 95% interval; and the verdict: reliable, or unreliable with the failed
checks and their remedies.
"""

from __future__ import annotations

import json
import math
from attacks.threats import Role as ThreatRole
from attacks.threats import role_of
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from bench.auditing.parts import ADAPTIVE_ROLES, Part, adaptive_flags, unpack
from bench.auditing.sanity import transfer_vs_adaptive
from bench.auditing.verdicts import OVERALL, CheckResult, Verdict, skipped
from bench.jobs import JobKind, Status
from bench.statistics import Interval, accuracy_interval, flags_interval
from bench.store import audit_rows, draw_flags_of, job_rows, results_rows
from bench.worst import counted, survivors

KEY_COLUMNS = ("dataset", "arch", "recipe", "defense")
AUDIT_COLUMNS = (*KEY_COLUMNS, "check", "verdict", "value", "threshold", "evidence")
EXTRA_COLUMNS = ("seed", "n", "part", "classifier_key")


def remedy(evidence: str) -> str:
    """The remedy of a check's evidence: what follows its first '; '."""
    return evidence.partition("; ")[2] or evidence


def _worst(flags: Iterable[np.ndarray]) -> Interval:
    """Per-example worst case over ``flags`` (each (n,) or (draws, n)) on their common first examples, with its interval."""
    flags = [f for f in flags if np.shape(f)[-1]]
    if not flags:
        return accuracy_interval(0, 0)
    m = min(np.shape(f)[-1] for f in flags)
    return flags_interval(survivors([np.asarray(f)[..., :m] for f in flags]))


def overall(checks: list[CheckResult], flags: Iterable[np.ndarray], missing: list[str]) -> CheckResult:
    """The stack's verdict and the worst-case number it supports."""
    if missing:
        return skipped(OVERALL, f"the audit is incomplete (parts not done: {', '.join(missing)}); run the audit again to "
                                "finish it")
    interval = _worst(flags)
    worst, low, high, n = interval.value, interval.low, interval.high, interval.n
    failed = [c for c in checks if c.verdict is Verdict.FAIL]
    warned = [c.check for c in checks if c.verdict is Verdict.WARN]
    number = (f"robust accuracy at most {100 * worst:.1f}% (worst over every attack and threat run; n = {n}, "
              f"95% interval {100 * low:.1f}-{100 * high:.1f}%)")
    if failed:
        remedies = "; ".join(f"{c.check}: {remedy(c.evidence)}" for c in failed)
        return CheckResult(OVERALL, Verdict.FAIL, worst, math.nan,
                           f"unreliable: {', '.join(c.check for c in failed)}; remedy: {remedies} (until then {number} is "
                           "only an upper bound)")
    text = f"{number}, evaluation reliable" + (f" (warnings: {', '.join(warned)})" if warned else "")
    return CheckResult(OVERALL, Verdict.WARN if warned else Verdict.PASS, worst, math.nan, text)


def _transfer_check(results: list[dict[str, Any]], flags: dict[str, np.ndarray],
                    packed: dict[str, str]) -> CheckResult:
    transfer = [r for r in results if role_of(r["threat_model"]) is ThreatRole.TRANSFER and r["job_key"] in flags]
    adaptive = adaptive_flags({role: unpack(text) for role, text in packed.items()})
    if adaptive is None:
        return skipped("transfer_vs_adaptive", "the audit's adaptive attack has not finished")
    if not transfer:
        return skipped("transfer_vs_adaptive", "no transfer attack ran against this stack; add threats = [\"transfer\"] "
                                               "with sources to compare")
    best = min(transfer, key=lambda r: r["accuracy"])
    chosen = flags[best["job_key"]].all(axis=0)
    m = min(len(chosen), len(adaptive))
    attacks = " and ".join(name for role, name in ADAPTIVE_ROLES.items() if role.value in packed)
    return transfer_vs_adaptive(chosen[:m], adaptive[:m], f"{best['source']} ({best['attack']})", attacks)


def _audit_label(label: str) -> tuple[str, str, str]:
    """(part, stack, classifier label) of an audit job's label ``audit PART | STACK | CLASSIFIER`` (bench.auditing.planning)."""
    head, stack, classifier = label.split(" | ", 2)
    return head.removeprefix("audit "), stack, classifier


def audit_checks(path: Path | str) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Per stack (dataset, arch, recipe, defense, classifier key): its rows, stored and derived, ``overall`` last."""
    stored = audit_rows(path)
    planned: dict[tuple[str, str], set[str]] = defaultdict(set)
    done: dict[tuple[str, str], set[str]] = defaultdict(set)
    for job in job_rows(path):
        if job["kind"] == JobKind.AUDIT.value:
            part, stack, classifier = _audit_label(job["label"])
            planned[(classifier, stack)].add(part)
            if job["status"] == Status.DONE.value:
                done[(classifier, stack)].add(part)
    results = results_rows(path)
    result_flags = draw_flags_of(path, [r["job_key"] for r in results])
    worst_keys = set(counted(pd.DataFrame(results))["job_key"]) if results else set()  # each attack at its main eps
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    details: dict[tuple[str, ...], dict[str, str]] = defaultdict(dict)
    for row in stored:
        key = (row["dataset"], row["arch"], row["recipe"], row["defense"], row["classifier_key"])
        groups[key].append(row)
        details[key].update(json.loads(row["details_json"] or "{}").get("flags", {}))
    out: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, rows in groups.items():
        base = {k: rows[0][k] for k in (*KEY_COLUMNS, *EXTRA_COLUMNS) if k != "part"}
        mine = [r for r in results if r["classifier_key"] == key[4] and r["defense"] == key[3]]
        packed = details[key]
        checks = [CheckResult.from_row(r) for r in rows]
        checks.append(_transfer_check(mine, result_flags, packed))
        label = f"{key[0]}/{key[1]}/{key[2]}/seed{base['seed']}"
        missing = sorted(planned[(label, key[3])] - done[(label, key[3])])
        flags = [result_flags[r["job_key"]] for r in mine if r["job_key"] in result_flags and r["job_key"] in worst_keys]
        flags += [unpack(v) for v in packed.values()]
        checks.append(overall(checks, flags, missing))
        parts = {r["check"]: r["part"] for r in rows}
        out[key] = [{**base, **c.row(), "part": parts.get(c.check, Part.SANITY.value if c.check != OVERALL else "")}
                    for c in checks]
    covered = {(f"{k[0]}/{k[1]}/{k[2]}/seed{rows[0]['seed']}", k[3]) for k, rows in groups.items()}
    for classifier, stack in planned.keys() - covered:  # no part done yet: the stack still gets its overall row
        dataset, arch, recipe, seed = classifier.rsplit("/", 3)
        result = overall([], [], sorted(planned[(classifier, stack)] - done[(classifier, stack)]))
        base = {"dataset": dataset, "arch": arch, "recipe": recipe, "defense": stack, "seed": int(seed.removeprefix("seed")),
                "n": None, "classifier_key": None, "part": ""}
        out[(dataset, arch, recipe, stack, classifier)] = [{**base, **result.row()}]
    return out


def audit_frame(path: Path | str) -> pd.DataFrame:
    """One row per (dataset, arch, recipe, defense, check), the ``overall`` row last in each stack."""
    rows = [row for rows in audit_checks(path).values() for row in rows]
    return pd.DataFrame(rows, columns=[*AUDIT_COLUMNS, *EXTRA_COLUMNS])


def verdict_text(frame: pd.DataFrame) -> str:
    """The terminal's verdict table: per stack, each check's verdict and value, the evidence of those not passed."""
    if frame.empty:
        return "no audit in this results database; run it with 'run_bench.py audit SPEC' (or audit = true in the spec)"
    lines = []
    for (dataset, arch, recipe, defense), group in frame.groupby(list(KEY_COLUMNS), sort=False):
        lines.append(f"{dataset}/{arch}/{recipe} | {defense}")
        for row in group.itertuples(index=False):
            if row.check == OVERALL:
                continue
            value = "" if pd.isna(row.value) else f"{row.value:.3g}"
            note = "" if row.verdict == Verdict.PASS.value else f"  {row.evidence}"
            lines.append(f"  {row.check:<24}{row.verdict:<8}{value:>8}{note}")
        final = group[group["check"] == OVERALL].iloc[0]
        lines.append(f"  => {final['verdict']}: {final['evidence']}")
    return "\n".join(lines)
