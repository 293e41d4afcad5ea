"""Paired comparisons in the report: every stack against 'none' on the same classifier and attack.

The numbers are ``bench.paired.versus_none``'s; a difference not significant
at 5% (exact McNemar) is marked and said in words, so a gain inside the noise
of n examples is never read as one.
"""

from __future__ import annotations

import pandas as pd

from bench.report.headline import interval_text, n_label, significance_text
from bench.report.layout import ordered_rows
from bench.report.load import DONE, ReportData
from bench.report.model import ReportTable
from bench.report.names import slug
from bench.paired import versus_none

NOT_SIGNIFICANT_MARK = "weak"  # a CSS class: the difference is within noise


def comparisons_table(data: ReportData, dataset: str) -> ReportTable | None:
    cells = data.cells[(data.cells["dataset"] == dataset) & (data.cells["status"] == DONE)]
    if cells.empty:
        return None
    pairs = versus_none(cells, data.flags(cells["job_key"]))
    if pairs.empty:
        return None
    names = cells.drop_duplicates(["arch", "recipe", "seed"]).set_index(["arch", "recipe", "seed"])
    pairs = pairs.assign(classifier=[names.at[(a, r, s), "classifier"] for a, r, s in zip(pairs["arch"], pairs["recipe"], pairs["seed"])],
                         section=[names.at[(a, r, s), "section"] for a, r, s in zip(pairs["arch"], pairs["recipe"], pairs["seed"])])
    order = {(c, d): i for i, (_, c, d) in enumerate(ordered_rows(cells))}
    pairs = pairs.assign(_order=[order.get((c, d), len(order)) for c, d in zip(pairs["classifier"], pairs["defense"])])
    pairs = pairs.sort_values("_order", kind="stable").reset_index(drop=True)
    records, marks = [], {}
    for position, r in enumerate(pairs.itertuples()):
        setting = r.attack if r.attack == "clean" else f"{r.attack}/{r.threat} eps={r.eps:g}"
        setting += f" lam={r.lam:g}" if isinstance(r.lam, float) and r.lam == r.lam else ""
        setting += f" from {r.source}" if isinstance(r.source, str) else ""
        records.append({"Section": r.section, "Classifier": r.classifier, "Defense": r.defense, "Attack": setting,
                        "Accuracy": r.accuracy, "None": r.accuracy_none, "Difference (pts)": r.difference,
                        "95% CI": interval_text(r.ci_low, r.ci_high), "McNemar p": r.p_value,
                        "Significance": significance_text(r.p_value, r.n)})
        if records[-1]["Significance"]:
            marks[(position, "Difference (pts)")] = NOT_SIGNIFICANT_MARK
    frame = pd.DataFrame(records)
    note = (f"{n_label(pairs)}. Each result of a defense stack against 'none' on the same classifier and attack "
            "setting, on the same examples: the difference in accuracy (points) with its paired 95% interval (MOVER on "
            "Clopper-Pearson limits) and the exact McNemar p-value on the per-example flags. A difference with p >= 0.05 "
            "is marked and is not distinguishable from no defense at this n.")
    return ReportTable(slug(dataset, "paired"), "Paired comparisons against no defense", note, frame, marks,
                       section="Section", formats={"McNemar p": ".3g"})
