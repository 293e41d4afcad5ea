"""The end-of-run summary: accuracy tables from a results database, printed by the CLI.

The oblivious table (the threats whose role is the baseline) has a row per classifier and defense stack and a column
per attack (Clean first) with the paper's worst case (the row minimum); the
threat table gives, per threat, the worst accuracy over its attacks, eps,
lambda and sources.  The full report (tables, figures, provenance) is
``run_bench.py report``'s job.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from attacks.threats import Role, role_of
from bench.export import results_frame
from bench.spec import CLEAN

ROW = ["dataset", "arch", "recipe", "defense"]
WORST = "worst"
BASELINE = "baseline"


def _column(row: pd.Series) -> str:
    eps = "" if row["attack"] == CLEAN else f"@{row['eps']:g}"
    return f"{row['attack']}{eps}"


def summary_tables(path: Path | str) -> dict[str, pd.DataFrame]:
    """``baseline``: accuracy per attack under the oblivious threat; ``threats``: worst accuracy per other threat (percent)."""
    frame = results_frame(path)
    tables: dict[str, pd.DataFrame] = {}
    if frame.empty:
        return tables
    frame = frame.assign(accuracy=frame["accuracy"] * 100)
    baseline = pd.Series([role_of(t) is Role.BASELINE for t in frame["threat_model"]], index=frame.index)
    oblivious = frame[baseline]
    if not oblivious.empty:
        columns = oblivious.apply(_column, axis=1)
        table = oblivious.assign(column=columns).pivot_table(index=ROW, columns="column", values="accuracy", sort=False)
        table.columns.name = None
        table[WORST] = table.min(axis=1)
        tables[BASELINE] = table
    others = frame[~baseline]
    if not others.empty:
        table = others.pivot_table(index=ROW, columns="threat", values="accuracy", aggfunc="min", sort=False)
        table.columns.name = None
        tables["threats"] = table
    return tables


def summary_text(path: Path | str) -> str:
    parts = []
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format", "{:.1f}".format):
        for name, table in summary_tables(path).items():
            title = "accuracy (%), oblivious threat" if name == BASELINE else "worst accuracy (%) per threat"
            parts.append(f"{title}\n{table.to_string()}")
    return "\n\n".join(parts) or "no results yet"

