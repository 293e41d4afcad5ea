"""The end-of-run summary: accuracy tables from a results database, printed by the CLI.

The oblivious table has a row per classifier and defense stack and a column
per attack (Clean first) with the paper's worst case (the row minimum); the
threat table gives, per threat, the worst accuracy over its attacks, eps,
lambda and sources.  The full report (tables, figures, provenance) is
``run_bench.py report``'s job.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.export import results_frame
from bench.spec import CLEAN

ROW = ["dataset", "arch", "recipe", "defense"]
WORST = "worst"


def _column(row: pd.Series) -> str:
    eps = "" if row["attack"] == CLEAN else f"@{row['eps']:g}"
    return f"{row['attack']}{eps}"


def summary_tables(path: Path | str) -> dict[str, pd.DataFrame]:
    """``oblivious``: accuracy per attack; ``threats``: worst accuracy per threat (both percent)."""
    frame = results_frame(path)
    tables: dict[str, pd.DataFrame] = {}
    if frame.empty:
        return tables
    frame = frame.assign(accuracy=frame["accuracy"] * 100)
    oblivious = frame[frame["threat_model"] == "oblivious"]
    if not oblivious.empty:
        columns = oblivious.apply(_column, axis=1)
        table = oblivious.assign(column=columns).pivot_table(index=ROW, columns="column", values="accuracy", sort=False)
        table.columns.name = None
        table[WORST] = table.min(axis=1)
        tables["oblivious"] = table
    others = frame[frame["threat_model"] != "oblivious"]
    if not others.empty:
        table = others.pivot_table(index=ROW, columns="threat", values="accuracy", aggfunc="min", sort=False)
        table.columns.name = None
        tables["threats"] = table
    return tables


def summary_text(path: Path | str) -> str:
    parts = []
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.float_format", "{:.1f}".format):
        for name, table in summary_tables(path).items():
            title = "accuracy (%), oblivious threat" if name == "oblivious" else "worst accuracy (%) per threat"
            parts.append(f"{title}\n{table.to_string()}")
    return "\n\n".join(parts) or "no results yet"

