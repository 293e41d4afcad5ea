"""What a report is made of: tables (data for export plus cell marks for HTML) and figures.

A table keeps its numbers in a plain DataFrame, which is what the CSV,
Markdown and LaTeX files contain; how a cell looks in HTML (best of its
block, missing, an upper bound of a partial row) is kept beside it as marks,
so the exported numbers never carry presentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

BEST = "best"  # the best value of its block (bold)
MISSING = "missing"  # a planned cell without a result (pending, failed or skipped)
PARTIAL = "partial"  # computed from the cells present only: an upper bound for a worst case
DEFAULT_FORMAT = ".2f"  # accuracies in percent, as the paper prints them
SIGNIFICANT = "significant"  # a format of 4 significant digits, written out with thousands separators (never 3.1e+07)
SIGNIFICANT_DIGITS = 4


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> str:
    """``30,840,000`` or ``0.5123``: ``digits`` significant digits without an exponent."""
    if value == 0 or not math.isfinite(value):
        return format(value, ".0f") if value == 0 else str(value)
    decimals = digits - 1 - math.floor(math.log10(abs(value)))  # negative: round to tens, hundreds, ...
    return format(round(value, decimals), f",.{max(decimals, 0)}f")


@dataclass(frozen=True)
class ReportTable:
    """One table: ``frame`` is exported as is; ``marks`` and ``tips`` style HTML cells by (row position, column)."""

    key: str  # file stem of the exported files (already a safe file name)
    title: str
    note: str
    frame: pd.DataFrame
    marks: dict[tuple[int, str], str] = field(default_factory=dict)
    tips: dict[tuple[int, str], str] = field(default_factory=dict)
    section: str | None = None  # a column shown as section rows in HTML (kept as a column in exports)
    column_groups: tuple[tuple[str, int], ...] = ()  # an HTML header row above the columns: (label, span)
    formats: dict[str, str] = field(default_factory=dict)  # format spec of a float column (default ".2f")
    x: str | None = None  # the swept column of a sweep table, the x axis of its figure
    n: int | None = None  # the examples behind each accuracy of a sweep table (its figure's intervals), when one n

    def text(self, column: str, value: Any) -> str:
        """A value as every file of the report shows it: floats per ``formats``, nothing for a missing value."""
        if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
            return ""
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else "no"
        if isinstance(value, (float, np.floating)):
            spec = self.formats.get(column, DEFAULT_FORMAT)
            return significant(float(value)) if spec == SIGNIFICANT else format(float(value), spec)
        return str(value)


@dataclass(frozen=True)
class ReportFigure:
    """A PNG in the report folder (``name`` relative to it) and the same figure as a PDF (``vector``), for papers."""

    name: str
    title: str
    caption: str
    vector: str


@dataclass
class DatasetSection:
    """Everything the report shows for one dataset, in reading order."""

    dataset: str
    anchor: str
    items: list[ReportTable | ReportFigure] = field(default_factory=list)

    def add(self, *items: ReportTable | ReportFigure | None) -> None:
        """Append tables or figures; None (nothing to show for that part) is skipped."""
        self.items.extend(item for item in items if item is not None)
