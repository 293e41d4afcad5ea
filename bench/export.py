"""Exporting results: one row per result, through pandas, as CSV, JSON, Markdown or LaTeX.

The first columns are fixed, since scripts read them by name:
``dataset, arch, recipe, defense, attack, threat, eps, lam, source, n, accuracy, seconds``
(``lam`` only for auxaware, ``source`` only for transfer; empty elsewhere), then
the rest of what the store keeps (undefended accuracy, timings, keys).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from bench.errors import UserError
from bench.store import results_rows

EXPORT_COLUMNS = ("dataset", "arch", "recipe", "defense", "attack", "threat", "eps", "lam", "source", "n", "accuracy", "seconds")
EXTRA_COLUMNS = ("seed", "accuracy_undefended", "purify_seconds_per_image", "attack_base", "threat_model", "source_kind",
                 "source_classifier", "eval_batch_size", "device", "classifier_key", "advset_key", "job_key", "finished")


def results_frame(path: Path | str) -> pd.DataFrame:
    """The results of the database at ``path`` (the current plan's), one row each."""
    rows = results_rows(path)
    return pd.DataFrame(rows, columns=[*EXPORT_COLUMNS, *EXTRA_COLUMNS])


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub pipe table (pandas' own needs the optional tabulate package)."""
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _json(frame: pd.DataFrame) -> str:
    return frame.to_json(orient="records", indent=1) + "\n"


def _latex(frame: pd.DataFrame) -> str:
    return frame.to_latex(index=False, na_rep="", float_format="%.4g")


FORMATS: dict[str, Callable[[pd.DataFrame], str]] = {
    "csv": lambda frame: frame.to_csv(index=False),
    "json": _json,
    "markdown": to_markdown,
    "latex": _latex,
}


def export(path: Path | str, fmt: str) -> str:
    """The results of ``path`` rendered as ``fmt`` (one of ``FORMATS``)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return FORMATS[fmt](results_frame(path))
