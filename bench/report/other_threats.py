"""Threat models the paper's tables have no place for (a plugin's, such as a noise baseline): worst accuracy per threat.

A row per classifier and defense stack, a column per threat label holding the
worst accuracy over its attacks and eps, so any registered threat's results
appear in the report without a table written for it.
"""

from __future__ import annotations

import pandas as pd

from attacks.threats import Role
from bench.report.layout import ordered_rows, percent_of
from bench.report.load import DONE, ReportData
from bench.report.model import MISSING, PARTIAL, ReportTable
from bench.report.names import slug


def table_other_threats(data: ReportData, dataset: str) -> ReportTable | None:
    cells = data.cells[(data.cells["dataset"] == dataset) & (data.cells["threat_role"] == Role.OTHER.value)]
    if cells.empty:
        return None
    threats = list(dict.fromkeys(cells["threat"]))
    records, marks, tips = [], {}, {}
    for position, (section, classifier, defense) in enumerate(ordered_rows(cells)):
        record = {"Section": section, "Classifier": classifier, "Defense": defense}
        for threat in threats:
            rows = cells[(cells["classifier"] == classifier) & (cells["defense"] == defense) & (cells["threat"] == threat)]
            record[threat], lacking = percent_of(rows)
            if lacking:
                marks[(position, threat)] = PARTIAL if (rows["status"] == DONE).any() else MISSING
                tips[(position, threat)] = lacking
        records.append(record)
    note = ("Accuracy (%) of the whole pipeline under threat models outside the paper's tables, the worst over each "
            "threat's attacks and eps.")
    return ReportTable(slug(dataset, "other-threats"), "Other threat models", note, pd.DataFrame(records), marks, tips,
                       section="Section")
