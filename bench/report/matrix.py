"""Table 3 (robust accuracy per attack, oblivious threat) and Table 1 (its worst case per classifier).

Table 3 has a row per base classifier and defense stack and a column per
attack (Clean, PGD, C&W, DF, MIM, AutoAttack, then any other), the paper's
worst case (over its columns), the unqualified worst case of ``bench.worst``
(over everything that ran against the stack) with its interval, and the gain
of the paper's worst case over "none" on the same classifier, in points and
in percent (as the paper's text reports "42.11% (46.17 to 65.61)").  A planned cell without a result is shown
as missing and makes its row's worst cases upper bounds.  An attack variant
(a label with ``use = ...``) joins Table 3 only when its algorithm has no
column of its own; otherwise it belongs to the attack sweeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from attacks.threats import Role
from bench.jobs import CLEAN
from bench.report.headline import interval_text, n_label, stack_frame
from bench.report.layout import best_marks, lacking_summary, main_eps, ordered_rows, status_tip
from bench.report.load import DONE, ReportData
from bench.report.model import MISSING, PARTIAL, ReportTable
from bench.report.names import NONE_STACK, SECTION_ORDER, column_rank, slug
from bench.worst import gain, paper_worst

WORST_PAPER = "Worst (paper columns)"
WORST = "Worst"
WORST_CI = "Worst 95% CI"
GAIN_POINTS = "Gain, paper columns (pts)"
GAIN_PERCENT = "Gain, paper columns (%)"
MISSING_COLUMN = "Missing"


@dataclass(frozen=True)
class MatrixColumn:
    attack: str  # the spec label
    base: str
    name: str  # the header
    eps_key: str


def oblivious_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The white-box cells of Table 3: a threat in the baseline role (oblivious), no transfer source."""
    return cells[(cells["threat_role"] == Role.BASELINE.value) & cells["source"].isna()]


def matrix_columns(cells: pd.DataFrame) -> list[MatrixColumn]:
    """Table 3's columns: Clean and each attack at its main eps, in the paper's order."""
    cells = oblivious_cells(cells)
    attacks = cells.drop_duplicates("attack")[["attack", "attack_base", "column"]]
    own = set(attacks.loc[attacks["attack"] == attacks["attack_base"], "attack_base"])
    kept = attacks[(attacks["attack"] == attacks["attack_base"]) | ~attacks["attack_base"].isin(own)]
    eps = main_eps(cells[cells["attack"].isin(kept["attack"])])
    columns = [MatrixColumn(a, b, name, eps[a]) for a, b, name in kept.itertuples(index=False)]
    return sorted(columns, key=lambda c: (column_rank(c.base), c.name))


def matrix_cells(cells: pd.DataFrame, columns: list[MatrixColumn]) -> pd.DataFrame:
    """The oblivious cells that Table 3 shows: each column's attack at its main eps."""
    cells = oblivious_cells(cells)
    keep = pd.Series(False, index=cells.index)
    for column in columns:
        keep |= (cells["attack"] == column.attack) & (cells["eps_key"] == column.eps_key)
    return cells[keep]


def _measured(shown: pd.DataFrame, column: MatrixColumn) -> str:
    """`` (largest perturbation measured 0.3)`` over a column's results, when they recorded it."""
    cells = shown[(shown["attack"] == column.attack) & (shown["status"] == DONE)]
    values = cells["max_perturbation"].dropna() if "max_perturbation" in cells else pd.Series(dtype=float)
    return f" (largest perturbation measured {values.max():.4g})" if not values.empty else ""


def table3(data: ReportData, dataset: str) -> ReportTable | None:
    cells = data.cells[data.cells["dataset"] == dataset]
    columns = matrix_columns(cells)
    if not columns:
        return None
    shown = matrix_cells(cells, columns)
    by_key = {(r.classifier, r.defense, r.attack): r for r in shown.itertuples()}
    stacks = stack_frame(data, dataset)
    worst = {(r.classifier, r.defense): r for r in stacks.itertuples()} if not stacks.empty else {}
    records, marks, tips = [], {}, {}
    for position, (section, classifier, defense) in enumerate(ordered_rows(shown)):
        record = {"Section": section, "Classifier": classifier, "Defense": defense}
        by_base, lacking = {}, []
        for column in columns:
            cell = by_key.get((classifier, defense, column.attack))
            if cell is None or cell.status != DONE:
                record[column.name] = math.nan
                lacking.append((column.name, "not planned" if cell is None else cell.status, None))
                if cell is not None:
                    marks[(position, column.name)] = MISSING
                    tips[(position, column.name)] = status_tip(cell.status, cell.error)
                continue
            record[column.name] = round(100 * cell.accuracy, 2)
            by_base[column.base] = min(by_base.get(column.base, math.inf), 100 * cell.accuracy)
        record[WORST_PAPER] = paper_worst(by_base)
        overall = worst.get((classifier, defense))
        record[WORST] = overall.worst if overall is not None else math.nan
        record[WORST_CI] = _interval(overall)
        record[MISSING_COLUMN] = lacking_summary(lacking)
        if lacking:
            marks[(position, WORST_PAPER)] = PARTIAL
            tips[(position, WORST_PAPER)] = f"upper bound; no result ({record[MISSING_COLUMN]})"
        if overall is None or not overall.complete:
            marks[(position, WORST)] = PARTIAL
            tips[(position, WORST)] = "upper bound: some results of this stack are missing"
        records.append(record)
    frame = pd.DataFrame(records)
    bounded = {i for (i, column), mark in marks.items() if column == WORST_PAPER and mark == PARTIAL}
    gain_marks, gain_tips = _add_gains(frame, bounded)
    marks.update(gain_marks)
    tips.update(gain_tips)
    lacking_text = frame.pop(MISSING_COLUMN)
    if lacking_text.any():
        frame[MISSING_COLUMN] = lacking_text  # last: it explains the row's bounds
    numeric = [c.name for c in columns] + [WORST_PAPER, WORST]
    frame[[WORST_PAPER, WORST]] = frame[[WORST_PAPER, WORST]].round(2)
    marks = {**best_marks(frame, "Classifier", numeric), **marks}
    eps_note = "; ".join(f"{c.name} at eps {c.eps_key}{_measured(shown, c)}" for c in columns if c.base != CLEAN)
    n_text = n_label(shown)
    note = (f"{n_text + '. ' if n_text else ''}Accuracy (%) on the first n test examples; the attack sees the base classifier only (oblivious) and "
            f"the defense purifies afterwards. {eps_note}. Worst (paper columns): the minimum over Clean, PGD, C&W, DF and "
            f"MIM as in the paper's Table 3. Worst: examples correct under every result that ran against the stack, this "
            f"table's columns and every other threat model (see the worst-case table), with its 95% Clopper-Pearson "
            f"interval. Gain: Worst (paper columns) against 'none' on the same classifier, in points and in percent of "
            f"'none' (its significance is in the paired comparisons). Bold: best of its classifier's block.")
    return ReportTable(slug(dataset, "table3"), "Table 3: robust accuracy per attack (oblivious threat" + (f"; {n_text})" if n_text else ")"), note,
                       frame, marks, tips, section="Section")


def _interval(row: object) -> str:
    return "" if row is None else interval_text(row.worst_ci_low, row.worst_ci_high)


def _add_gains(frame: pd.DataFrame, bounded: set[int]) -> tuple[dict[tuple[int, str], str], dict[tuple[int, str], str]]:
    """Add the gain of Worst (paper) over the 'none' row of the same classifier (no columns when there is no 'none').

    ``bounded``: positions whose Worst (paper) is an upper bound (cells without
    a result).  A bounded row over a complete 'none' gains at most the value
    shown (marked partial); over a bounded 'none' the difference bounds
    nothing, so it is left out.  Returns the marks and tips of the gain cells.
    """
    marks: dict[tuple[int, str], str] = {}
    tips: dict[tuple[int, str], str] = {}
    nones = {c: i for i, (c, d) in enumerate(zip(frame["Classifier"], frame["Defense"])) if d == NONE_STACK}
    if not nones:
        return marks, tips
    points, percents = [], []
    for i, (classifier, defense, worst) in enumerate(zip(frame["Classifier"], frame["Defense"], frame[WORST_PAPER])):
        base = nones.get(classifier)
        if defense == NONE_STACK or base is None or base in bounded:
            points.append(math.nan)
            percents.append(math.nan)
            if base in bounded and defense != NONE_STACK:
                for column in (GAIN_POINTS, GAIN_PERCENT):
                    marks[(i, column)], tips[(i, column)] = MISSING, "incomplete: 'none' lacks results on this classifier"
            continue
        baseline = frame.at[base, WORST_PAPER]
        gained, percent = gain(worst, baseline)
        points.append(round(gained, 2))
        percents.append(round(percent, 2))
        if baseline == 0:
            tips[(i, GAIN_PERCENT)] = "no percent of a baseline of 0 ('none' has 0% here)"
        if i in bounded:
            for column in (GAIN_POINTS, GAIN_PERCENT):
                marks[(i, column)], tips[(i, column)] = PARTIAL, "upper bound: this row lacks results"
    frame[GAIN_POINTS] = points
    frame[GAIN_PERCENT] = percents
    return marks, tips


def table1(matrix: ReportTable, dataset: str) -> ReportTable:
    """Worst (paper) with a row per defense stack and a column per classifier, stand-alone then add-on (Table 1)."""
    frame = matrix.frame
    pivot = frame.pivot_table(index="Defense", columns="Classifier", values=WORST_PAPER, sort=False, dropna=False)
    by_section = {name: list(dict.fromkeys(frame.loc[frame["Section"] == name, "Classifier"])) for name in SECTION_ORDER}
    classifiers = [c for cols in by_section.values() for c in cols]
    pivot = pivot.reindex(index=list(dict.fromkeys(frame["Defense"])), columns=classifiers)
    table = pivot.reset_index()
    groups = (("", 1),) + tuple((name, len(cols)) for name, cols in by_section.items() if cols)
    marks = best_marks(table.assign(_all=0), "_all", classifiers)
    partial = {(frame.at[i, "Defense"], frame.at[i, "Classifier"]) for (i, c), m in matrix.marks.items()
               if c == WORST_PAPER and m == PARTIAL}
    for (defense, classifier) in partial:
        marks[(table.index[table["Defense"] == defense][0], classifier)] = PARTIAL
    note = ("Worst (paper columns) of Table 3 (%), the minimum over Clean, PGD, C&W, DF and MIM, for each classifier: a purifier on a "
            "naturally trained classifier stands alone, on an adversarially trained one it is an add-on; a classifier "
            "given as a checkpoint or module, whose training is not known, is grouped on its own. "
            "Bold: best defense for the classifier.")
    return ReportTable(slug(dataset, "table1"), "Table 1: worst-case robust accuracy (paper columns), stand-alone and add-on", note, table,
                       marks, column_groups=groups)
