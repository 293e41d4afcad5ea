"""The end-of-run summary: accuracy tables from a results database, printed by the CLI.

The oblivious table (the threats in the baseline role) has a row per classifier and defense stack and a column
per attack (Clean first); the threat table gives, per threat, the lowest
accuracy over its attacks, eps, lambda and sources; each of their cells
carries the 95% Clopper-Pearson interval of its result; the worst-case table
gives, per stack, the unqualified worst case of ``bench.worst`` (every result
that ran against the stack, per example) with its 95% interval and the
paired gain over "none".  Accuracies in percent.  The full report (tables,
figures, provenance) is ``run_bench.py report``'s job.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from attacks.threats import Role, role_of
from bench.export import results_frame
from bench.report.headline import significance_text, stack_frame
from bench.report.load import load_report_data
from bench.spec import CLEAN

ROW = ["dataset", "arch", "recipe", "seed", "defense"]
WORST = "worst"
BASELINE = "baseline"  # the table of the threats in the baseline role (oblivious)


def _column(row: pd.Series) -> str:
    eps = "" if row["attack"] == CLEAN else f"@{row['eps']:g}"
    return f"{row['attack']}{eps}"


def _with_interval(frame: pd.DataFrame) -> pd.Series:
    """Each result's accuracy with its 95% interval, as the terminal shows it: ``46.7 [38.5, 55.0]``."""
    return pd.Series([f"{acc:.1f} [{lo:.1f}, {hi:.1f}]" for acc, lo, hi in
                      zip(frame["accuracy"], frame["ci_low"], frame["ci_high"])], index=frame.index)


def summary_tables(path: Path | str) -> dict[str, pd.DataFrame]:
    """``baseline``: accuracy per attack (oblivious); ``threats``: lowest accuracy per threat (both with intervals);
    ``worst``: per stack (percent)."""
    frame = results_frame(path)
    tables: dict[str, pd.DataFrame] = {}
    if frame.empty:
        return tables
    baseline = pd.Series([role_of(t) is Role.BASELINE for t in frame["threat_model"]], index=frame.index)
    oblivious = frame[baseline]
    if not oblivious.empty:
        columns = oblivious.apply(_column, axis=1)
        table = oblivious.assign(column=columns, cell=_with_interval(oblivious)).pivot_table(
            index=ROW, columns="column", values="cell", aggfunc="first", sort=False)
        table.columns.name = None
        tables[BASELINE] = table
    others = frame[~baseline]
    if not others.empty:
        lowest = others.sort_values("accuracy", kind="stable").drop_duplicates([*ROW, "threat"]).sort_index()
        table = lowest.assign(cell=_with_interval(lowest)).pivot_table(index=ROW, columns="threat", values="cell",
                                                                       aggfunc="first", sort=False)
        table.columns.name = None
        tables["threats"] = table
    stacks = stack_frame(load_report_data(path))
    if not stacks.empty:
        worst = stacks.set_index(ROW)
        tables[WORST] = pd.DataFrame({
            "n": worst["n"].astype("Int64"), "clean": worst["clean"], WORST: worst["worst"],
            "95% CI": [f"[{lo:.1f}, {hi:.1f}]" for lo, hi in zip(worst["worst_ci_low"], worst["worst_ci_high"])],
            "gain": worst["gain"], "McNemar p": ["" if p != p else f"{p:.2g}" for p in worst["gain_p"]],
            "note": [significance_text(p, n) for p, n in zip(worst["gain_p"], worst["n"])]}, index=worst.index)
        if worst["draws"].gt(1).any():  # a randomized stack: its mean over draws beside the worst draw
            tables[WORST].insert(4, "draws", worst["draws"].astype("Int64"))
            tables[WORST].insert(5, "mean over draws", worst["worst_mean_draws"])
    return tables


TITLES = {BASELINE: "accuracy (%) [95% interval], oblivious threat",
          "threats": "lowest accuracy (%) per threat [95% interval]",
          WORST: "worst case (%): examples correct under every result of the stack, with the paired gain over none"}


def summary_text(path: Path | str) -> str:
    parts = []
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 80,
                           "display.float_format", "{:.1f}".format):
        for name, table in summary_tables(path).items():
            parts.append(f"{TITLES[name]}\n{table.to_string()}")
    return "\n\n".join(parts) or "no results yet"
