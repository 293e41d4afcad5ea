"""Exporting results: one row per result, through pandas, as CSV, JSON, Markdown or LaTeX.

By default an export holds the reader's columns; the first are fixed, since scripts read them by name:
``dataset, arch, recipe, defense, attack, threat, eps, lam, source, n, accuracy, ci_low, ci_high, seconds``
(``lam`` only for auxaware, ``source`` only for transfer; empty elsewhere),
then ``attack_name`` (the attack as the report names it: a reduced AutoAttack
says it is a custom version) and ``max_perturbation`` (the largest
perturbation measured, in the attack's norm, the one eps bounds);
``all_columns`` adds the rest of what the store keeps (undefended accuracy,
draws, timings, keys).  Accuracies are percentages, as everywhere a result is
shown; ``ci_low`` and ``ci_high`` bound its 95% Clopper-Pearson interval
(``bench.statistics``).  A randomized stack's ``accuracy`` counts an example
only if it is correct on every one of its ``draws``; ``accuracy_mean_draws``
is the mean over them.  LaTeX is a booktabs table with escaped text,
right-aligned numbers and a label, each label column shown once per run of
equal values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from bench.errors import UserError
from bench import latex
from bench.attack_names import attack_column
from bench.jobs import LABEL_COLUMNS
from bench.statistics import accuracy_interval
from bench.store import results_rows, run_info

EXPORT_COLUMNS = ("dataset", "arch", "recipe", "defense", "attack", "threat", "eps", "lam", "source", "n", "accuracy",
                  "ci_low", "ci_high", "seconds")
MEASURED_COLUMNS = ("draws", "accuracy_mean_draws", "accuracy_undefended", "purify_seconds_per_image", "eval_batch_size",
                    "device", "classifier_key", "advset_key", "job_key", "finished")
READER_COLUMNS = (*EXPORT_COLUMNS, "attack_name", "max_perturbation")
#: Every other label of a result (``bench.jobs.LABEL_COLUMNS``, the one definition the store writes too), then the rest.
EXTRA_COLUMNS = (*(c for c in LABEL_COLUMNS if c not in EXPORT_COLUMNS), *MEASURED_COLUMNS)
PERCENT_COLUMNS = ("accuracy", "accuracy_mean_draws", "accuracy_undefended")
NUMBER_FORMATS = {"eps": "g", "lam": "g", "max_perturbation": ".4g", "accuracy": ".2f", "ci_low": ".2f", "ci_high": ".2f",
                 "accuracy_mean_draws": ".2f", "accuracy_undefended": ".2f", "seconds": ".3g"}
LATEX_GROUPED = ("dataset", "arch", "recipe", "defense")  # label columns shown once per run of equal values


def with_intervals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store rows (fractions) with accuracies in percent and the 95% interval of ``accuracy`` from its n."""
    out = []
    for row in rows:
        interval = accuracy_interval(round(row["accuracy"] * row["n"]), row["n"])
        # Rounded to 10 decimals so that 0.572 reads 57.2, not 57.199999999999996, in CSV and JSON.
        out.append({**row, **{c: round(100 * row[c], 10) for c in PERCENT_COLUMNS if row.get(c) is not None},
                    "ci_low": 100 * interval.low, "ci_high": 100 * interval.high})
    return out


def _frame(path: Path | str, columns: list[str]) -> pd.DataFrame:
    """The results of ``path`` (the current plan's) in ``columns``: accuracies in percent, dates as dates."""
    rows = with_intervals(results_rows(path))
    for row in rows:
        row["attack_name"] = attack_column(row["attack"], row["attack_base"], json.loads(row.get("attack_params_json") or "{}"))
    frame = pd.DataFrame(rows).reindex(columns=columns)
    if "finished" in frame:
        frame["finished"] = pd.to_datetime(frame["finished"], utc=True)
    return frame


def results_frame(path: Path | str) -> pd.DataFrame:
    """The results of the database at ``path`` (the current plan's), one row each; accuracies in percent."""
    return _frame(path, [*EXPORT_COLUMNS, *EXTRA_COLUMNS])


def export_frame(path: Path | str, all_columns: bool = False) -> pd.DataFrame:
    """The rows ``export`` writes: the reader's columns, then (``all_columns``) everything else the store keeps."""
    return _frame(path, [*READER_COLUMNS, *(EXTRA_COLUMNS if all_columns else ())])


def _number(column: str, value: Any) -> str | None:
    """A float of a column with a display format, formatted (``57.20``, not ``57.199999999999996``); else None."""
    if isinstance(value, float) and column in NUMBER_FORMATS:
        return format(value, NUMBER_FORMATS[column])
    return None


def _text(column: str, value: Any, escape: Callable[[str], str]) -> str:
    """A cell's text: empty for a missing value, a formatted number, or the value's text through ``escape``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    number = _number(column, value)
    return number if number is not None else escape(str(value))


def _cell(column: str, value: Any) -> str:
    return _text(column, value, lambda text: text.replace("|", "\\|"))


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub pipe table (pandas' own needs the optional tabulate package), numbers as the report shows them."""
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_cell(c, v) for c, v in zip(columns, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _json(frame: pd.DataFrame, caption: str, key: str) -> str:
    return frame.to_json(orient="records", indent=1, date_format="iso") + "\n"


def _latex_text(column: str, value: Any) -> str:
    return _text(column, value, latex.escape)


def _latex(frame: pd.DataFrame, caption: str, key: str) -> str:
    columns = list(frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in columns]
    rows = [[_latex_text(c, v) for c, v in zip(columns, row)] for row in frame.itertuples(index=False)]
    grouped = tuple(i for i, c in enumerate(columns) if c in LATEX_GROUPED)
    return latex.render(latex.LatexTable(header=columns, rows=rows, numeric=numeric, grouped=grouped,
                                         caption=caption, label=latex.label(key)))


FORMATS: dict[str, Callable[[pd.DataFrame, str, str], str]] = {  # (frame, caption, label key) -> text
    "csv": lambda frame, caption, key: frame.to_csv(index=False),
    "json": _json,
    "markdown": lambda frame, caption, key: to_markdown(frame),
    "latex": _latex,
}


def render(frame: pd.DataFrame, fmt: str, caption: str = "purebench export", key: str = "export") -> str:
    """``frame`` as ``fmt`` (one of ``FORMATS``); LaTeX gets ``caption`` and the label ``tab:KEY``."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return FORMATS[fmt](frame, caption, key)


def export(path: Path | str, fmt: str, all_columns: bool = False) -> str:
    """The results of ``path`` rendered as ``fmt`` (one of ``FORMATS``): the reader's columns, or ``all_columns``."""
    name = str(run_info(path)["name"])
    return render(export_frame(path, all_columns), fmt, f"Accuracy (%) on the first n test examples, run {name}",
                  f"{name}-results")
