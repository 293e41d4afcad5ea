"""Table 4: score-based (black-box) and transfer attacks on the whole pipeline.

A column per score-based attack, and a column per transfer source holding the
worst accuracy over the attacks crafted on it, as the paper's Table 4 shows
"the results for the worst attacks"; S=T is a surrogate of the target's
architecture, S!=T another architecture.
"""

from __future__ import annotations

import pandas as pd

from attacks.threats import Role
from bench.report.layout import best_marks, main_eps, ordered_rows, percent_of
from bench.report.load import DONE, ReportData
from bench.report.model import MISSING, PARTIAL, ReportTable
from bench.report.names import slug

QUERY = Role.QUERY.value
TRANSFER = Role.TRANSFER.value


def _columns(cells: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(header, its cells at their main eps) for each score-based attack and each transfer source."""
    columns = []
    blackbox = cells[cells["threat_role"] == QUERY]
    for attack, group in blackbox.groupby("attack", sort=False):
        eps = main_eps(group)[attack]
        columns.append((group["column"].iloc[0], group[group["eps_key"] == eps]))
    transfer = cells[cells["threat_role"] == TRANSFER]
    for source, group in transfer.groupby("source", sort=False):
        eps = main_eps(group)
        kept = group[[e == eps[a] for a, e in zip(group["attack"], group["eps_key"])]]
        kind = group["source_kind"].dropna().iloc[0] if group["source_kind"].notna().any() else "?"
        columns.append((f"{kind}: {source}", kept))
    return columns


def _surrogates(cells: pd.DataFrame) -> str:
    """`` = smallcnn/natural/seed1``: the classifiers a transfer source resolved to (known once a cell has a result)."""
    known = list(dict.fromkeys(cells["source_classifier"].dropna())) if "source_classifier" in cells else []
    return f" = {', '.join(c.partition('/')[2] or c for c in known)}" if known else ""


def table4(data: ReportData, dataset: str) -> ReportTable | None:
    cells = data.cells[data.cells["dataset"] == dataset]
    columns = _columns(cells)
    if not columns:
        return None
    records, marks, tips = [], {}, {}
    for position, (section, classifier, defense) in enumerate(ordered_rows(pd.concat([c for _, c in columns]))):
        record = {"Section": section, "Classifier": classifier, "Defense": defense}
        for header, group in columns:
            rows = group[(group["classifier"] == classifier) & (group["defense"] == defense)]
            record[header], lacking = percent_of(rows)
            done = rows[rows["status"] == DONE]
            if lacking:
                marks[(position, header)] = PARTIAL if not done.empty else MISSING
                tips[(position, header)] = lacking
            elif len(done) > 1:
                tips[(position, header)] = "worst of " + ", ".join(f"{r.attack} {100 * r.accuracy:.2f}" for r in done.itertuples())
        records.append(record)
    frame = pd.DataFrame(records)
    headers = [h for h, _ in columns]
    marks = {**best_marks(frame, "Classifier", headers), **marks}
    transfer = "; ".join(f"{source}{_surrogates(g)}: {', '.join(sorted(set(g['attack'])))}"
                         for source, g in cells[cells["threat_role"] == TRANSFER].groupby("source", sort=False))
    note = ("Accuracy (%) of the whole pipeline. Score-based attacks query the defended pipeline; transfer attacks are "
            "crafted on a surrogate classifier (S=T: the target's architecture, another seed; S!=T: another architecture) "
            f"and the worst over their attacks is shown{f' ({transfer})' if transfer else ''}. "
            "Bold: best of its classifier's block.")
    score_based = cells.loc[cells["threat_role"] == QUERY, "attack"].nunique()
    groups = tuple((label, span) for label, span in (("", 2), ("Score-based (black-box)", score_based),
                                                     ("Transfer", len(headers) - score_based)) if span)
    return ReportTable(slug(dataset, "table4"), "Table 4: black-box and transfer attacks", note, frame, marks, tips,
                       section="Section", column_groups=groups)
