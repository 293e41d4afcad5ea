"""Exporting results: one row per result, through pandas, as CSV, JSON, Markdown or LaTeX.

By default an export holds the reader's columns, DESIGN.md's
``dataset, arch, recipe, defense, attack, threat, eps, lam, source, n, accuracy, ci_low, ci_high, seconds``
(``lam`` only for auxaware, ``source`` only for transfer; empty elsewhere;
the interval columns when the results carry them), then ``attack_name``
(the attack as the report names it: a reduced AutoAttack says it is a custom
version) and ``max_perturbation`` (the largest perturbation measured, in the
attack's norm, the one eps bounds).  ``all_columns`` adds the rest of what the
store keeps (undefended accuracy, timings, keys).  LaTeX is a booktabs table
with escaped text, right-aligned numbers and a label, each label column
shown once per run of equal values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from bench.errors import UserError
from bench.report import latex
from bench.report.names import attack_column, slug
from bench.store import results_rows, run_info

EXPORT_COLUMNS = ("dataset", "arch", "recipe", "defense", "attack", "threat", "eps", "lam", "source", "n", "accuracy", "seconds")
READER_COLUMNS = ("dataset", "arch", "recipe", "defense", "attack", "threat", "eps", "lam", "source", "n", "accuracy", "ci_low",
                  "ci_high", "seconds", "attack_name", "max_perturbation")
EXTRA_COLUMNS = ("seed", "accuracy_undefended", "purify_seconds_per_image", "attack_base", "threat_model", "source_kind",
                 "source_classifier", "eval_batch_size", "device", "classifier_key", "advset_key", "job_key", "finished")
OPTIONAL_COLUMNS = frozenset({"ci_low", "ci_high"})  # shown when the results carry them
LATEX_FORMATS = {"eps": "g", "lam": "g", "max_perturbation": ".4g", "accuracy": ".4f", "ci_low": ".4f", "ci_high": ".4f",
                 "seconds": ".3g"}
LATEX_GROUPED = ("dataset", "arch", "recipe", "defense")  # label columns shown once per run of equal values


def results_frame(path: Path | str) -> pd.DataFrame:
    """The results of the database at ``path`` (the current plan's), one row each."""
    rows = results_rows(path)
    return pd.DataFrame(rows, columns=[*EXPORT_COLUMNS, *EXTRA_COLUMNS])


def _attack_names(rows: list[dict[str, Any]]) -> list[str]:
    return [attack_column(r["attack"], r["attack_base"], json.loads(r.get("attack_params_json") or "{}")) for r in rows]


def export_frame(path: Path | str, all_columns: bool = False) -> pd.DataFrame:
    """The rows ``export`` writes: the reader's columns, then (``all_columns``) everything else the store keeps."""
    rows = results_rows(path)
    frame = pd.DataFrame(rows)
    frame["attack_name"] = _attack_names(rows) if rows else []
    columns = [c for c in READER_COLUMNS if c not in OPTIONAL_COLUMNS or c in frame.columns]
    if all_columns:
        columns += [c for c in EXTRA_COLUMNS if c not in columns]
    return frame.reindex(columns=columns)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub pipe table (pandas' own needs the optional tabulate package)."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _json(frame: pd.DataFrame, name: str) -> str:
    return frame.to_json(orient="records", indent=1) + "\n"


def _latex_text(column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and column in LATEX_FORMATS:
        return format(value, LATEX_FORMATS[column])
    return latex.escape(str(value))


def _latex(frame: pd.DataFrame, name: str) -> str:
    columns = list(frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) for c in columns]
    rows = [[_latex_text(c, v) for c, v in zip(columns, row)] for row in frame.itertuples(index=False)]
    grouped = tuple(i for i, c in enumerate(columns) if c in LATEX_GROUPED)
    return latex.render(latex.LatexTable(header=columns, rows=rows, numeric=numeric, grouped=grouped,
                                         caption=f"Accuracy on the first n test examples, run {name}",
                                         label=f"tab:{slug(name, 'results')}"))


FORMATS: dict[str, Callable[[pd.DataFrame, str], str]] = {
    "csv": lambda frame, name: frame.to_csv(index=False),
    "json": _json,
    "markdown": lambda frame, name: to_markdown(frame),
    "latex": _latex,
}


def export(path: Path | str, fmt: str, all_columns: bool = False) -> str:
    """The results of ``path`` rendered as ``fmt`` (one of ``FORMATS``): the reader's columns, or ``all_columns``."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    frame = export_frame(path, all_columns)
    return FORMATS[fmt](frame, str(run_info(path)["name"]))
