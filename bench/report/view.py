"""A report table as the HTML template shows it: header, section rows, and cells with their marks.

Everything here is plain text; the template escapes it (jinja2 autoescape).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.report.model import MISSING, PARTIAL, ReportTable

UPPER_BOUND = "\u2264 "  # a partial row's worst case is at most the value shown
NO_VALUE = "\u2014"


@dataclass(frozen=True)
class HtmlCell:
    text: str
    classes: str
    title: str


@dataclass(frozen=True)
class HtmlRow:
    section: str | None  # a section heading row instead of cells
    cells: tuple[HtmlCell, ...] = ()


def html_columns(table: ReportTable) -> list[str]:
    return [str(c) for c in table.frame.columns if c != table.section]


def numeric_columns(table: ReportTable) -> set[str]:
    """Columns of numbers (right-aligned, as their cells)."""
    frame = table.frame
    return {str(c) for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])}


def shown(table: ReportTable, position: int, column: str, value: object) -> tuple[str, str, bool]:
    """A cell as every format of the report shows it: (text, mark, numeric); a partial row's value reads "<= x" and a
    missing cell names its status, so no format can show a bound or a gap as a plain number."""
    mark = table.marks.get((position, column), "")
    tip = table.tips.get((position, column), "")
    text = table.text(column, value)
    numeric = pd.api.types.is_number(value) and not isinstance(value, bool)
    if mark == MISSING and not text:
        text = tip.split(":")[0] if tip else NO_VALUE
    elif mark == PARTIAL and text:
        text = UPPER_BOUND + text
    elif not text and numeric:
        text = NO_VALUE
    return text, mark, numeric


def _cell(table: ReportTable, position: int, column: str, value: object) -> HtmlCell:
    text, mark, numeric = shown(table, position, column, value)
    classes = " ".join(c for c in (mark, "num" if numeric else "") if c)
    return HtmlCell(text, classes, table.tips.get((position, column), ""))


def html_rows(table: ReportTable) -> list[HtmlRow]:
    rows: list[HtmlRow] = []
    section = None
    columns = html_columns(table)
    for position, record in enumerate(table.frame.to_dict("records")):
        if table.section is not None and record[table.section] != section:
            section = record[table.section]
            rows.append(HtmlRow(str(section)))
        rows.append(HtmlRow(None, tuple(_cell(table, position, c, record[c]) for c in columns)))
    return rows
