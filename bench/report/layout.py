"""Shared layout rules of the accuracy tables: row order, the eps a column shows, best-of-block marks.

Rows follow Table 1 and Table 3 of the paper: stand-alone (naturally trained
classifiers) before add-on, each classifier a block, "none" first in its
block.  When an attack was run at several eps, the tables show the eps that
most rows share (the others belong to the eps sweep); on a tie the largest,
the strongest attack, so a worst case is never flattered.
"""

from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

from bench.report.load import DONE
from bench.report.model import BEST
from bench.report.names import NONE_STACK, SECTION_ORDER



def ordered_rows(cells: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(section, classifier, defense) of every row, in the paper's order; plan order within it."""
    sections = {name: i for i, name in enumerate(SECTION_ORDER)}
    classifiers = {c: i for i, c in enumerate(dict.fromkeys(cells["classifier"]))}
    defenses = {d: i for i, d in enumerate(dict.fromkeys(cells["defense"]))}
    rows = set(zip(cells["section"], cells["classifier"], cells["defense"]))
    return sorted(rows, key=lambda r: (sections.get(r[0], len(sections)), classifiers[r[1]], r[2] != NONE_STACK, defenses[r[2]]))


def main_eps(cells: pd.DataFrame, by: str = "attack") -> dict[str, str]:
    """For each value of ``by``, the eps (as text) evaluated for the most (classifier, defense) rows."""
    chosen = {}
    for name, group in cells.groupby(by, sort=False):
        counts = group.groupby("eps_key")[["classifier", "defense"]].apply(lambda g: len(set(zip(g["classifier"], g["defense"]))))
        best = counts.max()
        chosen[name] = max((e for e, c in counts.items() if c == best), key=float)
    return chosen


def best_marks(frame: pd.DataFrame, block: str, columns: Iterable[str]) -> dict[tuple[int, str], str]:
    """Mark the highest value of each column within each block of rows (ties all marked; not where all are equal)."""
    marks = {}
    for _, rows in frame.groupby(block, sort=False):
        if len(rows) < 2:
            continue
        for column in columns:
            values = rows[column].astype(float)
            if values.notna().sum() < 2 or values.nunique() < 2:
                continue  # nothing to compare, or every row equal
            top = values.max()
            marks.update({(frame.index.get_loc(i), column): BEST for i, v in values.items() if not math.isnan(v) and v == top})
    return marks


def lacking_summary(lacking: Iterable[tuple[str, str, object]]) -> str:
    """(name, status, error) of cells without a result as one line grouped by status, the status first:
    ``pending: PGD, MIM; failed: C&W (RuntimeError: out of memory)``."""
    by_status: dict[str, list[str]] = {}
    for name, status, error in lacking:
        first = status_tip(status, error).partition(": ")[2]
        by_status.setdefault(status, []).append(f"{name} ({first})" if first else name)
    return "; ".join(f"{status}: {', '.join(names)}" for status, names in by_status.items())


def percent_of(cells: pd.DataFrame, name: str = "attack") -> tuple[float, str]:
    """The lowest accuracy (%) of the done ``cells`` (NaN if none) and a summary of those without a result."""
    done = cells[cells["status"] == DONE]
    value = round(100 * done["accuracy"].min(), 2) if not done.empty else math.nan
    lacking = cells[cells["status"] != DONE]
    return value, lacking_summary(zip(lacking[name], lacking["status"], lacking["error"]))


def status_tip(status: str, error: object) -> str:
    """Why a planned cell has no number: its job's status and the first line of its error (None or NaN: none)."""
    first = error.strip().splitlines()[:1] if isinstance(error, str) else []
    return f"{status}: {first[0]}" if first else status
