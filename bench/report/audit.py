"""The audit in the report: the headline table (worst case beside the paper's protocol, with the verdict) and the checks.

The headline is what a reader should quote: per defense, the worst-case
robust accuracy over every attack and threat run on the run's n examples
(``bench.worst``, the one definition of worst) beside the oblivious number
the paper's protocol reports on the same examples, then the audit's own bound
(its ``overall`` number, on the audit's first examples with its own attacks
added) and its badge.  The two worst cases are kept apart because they are
measured on different examples: on its smaller sample the audit's bound can
lie above the run's worst case.  The checks table explains each check in a sentence and gives
its evidence.  Both are read from the results database alone.
"""

from __future__ import annotations

import math

import pandas as pd

from attacks.threats import Role
from bench.auditing.catalogue import CHECKS
from bench.auditing.frame import audit_checks
from bench.auditing.verdicts import OVERALL, Verdict
from bench.jobs import CLEAN
from bench.report.headline import interval_text, stack_frame
from bench.report.load import DONE, ReportData
from bench.report.model import ReportTable
from bench.report.names import slug

BADGES = {Verdict.PASS.value: "reliable", Verdict.WARN.value: "reliable, with warnings", Verdict.FAIL.value: "unreliable",
          Verdict.SKIPPED.value: "incomplete"}
AUDIT_COLUMN = "Audit"


def _mark(verdict: str) -> str:
    return f"audit-{verdict}"


def _oblivious(data: ReportData, dataset: str, arch: str, recipe: str, defense: str) -> float:
    cells = data.cells
    rows = cells[(cells["dataset"] == dataset) & (cells["arch"] == arch) & (cells["recipe"] == recipe)
                 & (cells["defense"] == defense) & (cells["threat_role"] == Role.BASELINE.value) & (cells["attack"] != CLEAN)
                 & (cells["status"] == DONE)]
    return 100 * float(rows["accuracy"].min()) if not rows.empty else math.nan


def audit_tables(data: ReportData, dataset: str) -> tuple[ReportTable | None, ReportTable | None]:
    """(headline, checks) of ``dataset``; (None, None) when the run has no audit."""
    stacks = {key: rows for key, rows in audit_checks(data.path).items() if key[0] == dataset}
    if not stacks:
        return None, None
    run_worst = stack_frame(data, dataset)
    headline, checks, marks, check_marks = [], [], {}, {}
    for (_, arch, recipe, defense, _key), rows in stacks.items():
        final = rows[-1]
        classifier = f"{arch}/{recipe}"
        audit_worst = final["value"]
        worst = run_worst[(run_worst["arch"] == arch) & (run_worst["recipe"] == recipe) & (run_worst["defense"] == defense)]
        marks[(len(headline), AUDIT_COLUMN)] = _mark(final["verdict"])
        headline.append({"Classifier": classifier, "Defense": defense, "n": int(worst["n"].iloc[0]) if len(worst) else math.nan,
                         "Oblivious (paper protocol)": round(_oblivious(data, dataset, arch, recipe, defense), 2),
                         "Worst case": round(float(worst["worst"].iloc[0]), 2) if len(worst) else math.nan,
                         "Worst case 95% CI": interval_text(worst["worst_ci_low"].iloc[0], worst["worst_ci_high"].iloc[0])
                         if len(worst) else "",
                         "Audit's worst case": round(100 * audit_worst, 2) if not math.isnan(audit_worst) else math.nan,
                         AUDIT_COLUMN: BADGES[final["verdict"]], "Verdict": final["evidence"]})
        for row in rows:
            check_marks[(len(checks), "Verdict")] = _mark(row["verdict"])
            checks.append({"Stack": f"{classifier} | {defense}", "Check": row["check"], "Tests": CHECKS.get(row["check"], ""),
                           "Verdict": row["verdict"], "Value": row["value"], "Threshold": row["threshold"],
                           "Evidence": row["evidence"]})
    head = ReportTable(slug(dataset, "headline"), "Worst case and audit verdict",
                       "Accuracy (%) per defense on the run's n test examples: the minimum over the oblivious attacks "
                       "(the paper's protocol, an upper bound for a purifier) and the worst case over every attack and "
                       "threat model run against it, per example, with its Clopper-Pearson interval. Audit's worst case: "
                       "the same on the audit's own (fewer) examples with its extra attacks, the number its verdict "
                       "supports; on a smaller sample it can lie above the run's. Audit: whether the audit found the "
                       "evaluation reliable; the verdict gives its n and interval, or the failed checks and their remedies.",
                       pd.DataFrame(headline), marks)
    table = ReportTable(slug(dataset, "audit"), "Audit checks",
                        "Each check of the robustness audit per (classifier, defense stack): what it tests, its verdict, "
                        "the value measured and the threshold it was read against (shares in [0, 1], accuracy differences "
                        "in points), and the evidence with the remedy.",
                        pd.DataFrame(checks), check_marks, section="Stack", formats={"Value": ".3g", "Threshold": ".3g"})
    return head, table
