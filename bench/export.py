"""Exporting results: one row per result, through pandas, as CSV, JSON, Markdown or LaTeX.

The first columns are fixed, since scripts read them by name:
``dataset, arch, recipe, defense, attack, threat, eps, lam, source, n, accuracy, ci_low, ci_high, seconds``
(``lam`` only for auxaware, ``source`` only for transfer; empty elsewhere), then
the rest of what the store keeps (undefended accuracy, draws, timings, keys).
Accuracies are percentages, as everywhere a result is shown; ``ci_low`` and
``ci_high`` bound its 95% Clopper-Pearson interval (``bench.statistics``).
A randomized stack's ``accuracy`` counts an example only if it is correct on
every one of its ``draws``; ``accuracy_mean_draws`` is the mean over them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from bench.errors import UserError
from bench.jobs import LABEL_COLUMNS
from bench.statistics import accuracy_interval
from bench.store import results_rows

EXPORT_COLUMNS = ("dataset", "arch", "recipe", "defense", "attack", "threat", "eps", "lam", "source", "n", "accuracy",
                  "ci_low", "ci_high", "seconds")
MEASURED_COLUMNS = ("draws", "accuracy_mean_draws", "accuracy_undefended", "purify_seconds_per_image", "eval_batch_size",
                    "device", "classifier_key", "advset_key", "job_key", "finished")
#: Every other label of a result (``bench.jobs.LABEL_COLUMNS``, the one definition the store writes too), then the rest.
EXTRA_COLUMNS = (*(c for c in LABEL_COLUMNS if c not in EXPORT_COLUMNS), *MEASURED_COLUMNS)
PERCENT_COLUMNS = ("accuracy", "accuracy_mean_draws", "accuracy_undefended")


def with_intervals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store rows (fractions) with accuracies in percent and the 95% interval of ``accuracy`` from its n."""
    out = []
    for row in rows:
        interval = accuracy_interval(round(row["accuracy"] * row["n"]), row["n"])
        out.append({**row, **{c: 100 * row[c] for c in PERCENT_COLUMNS if row.get(c) is not None},
                    "ci_low": 100 * interval.low, "ci_high": 100 * interval.high})
    return out


def results_frame(path: Path | str) -> pd.DataFrame:
    """The results of the database at ``path`` (the current plan's), one row each; accuracies in percent."""
    frame = pd.DataFrame(with_intervals(results_rows(path)), columns=[*EXPORT_COLUMNS, *EXTRA_COLUMNS])
    frame["finished"] = pd.to_datetime(frame["finished"], utc=True)
    return frame


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
    return frame.to_json(orient="records", indent=1, date_format="iso") + "\n"


def _latex(frame: pd.DataFrame) -> str:
    return frame.to_latex(index=False, na_rep="", float_format="%.4g")


FORMATS: dict[str, Callable[[pd.DataFrame], str]] = {
    "csv": lambda frame: frame.to_csv(index=False),
    "json": _json,
    "markdown": to_markdown,
    "latex": _latex,
}


def render(frame: pd.DataFrame, fmt: str) -> str:
    """``frame`` as ``fmt`` (one of ``FORMATS``)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return FORMATS[fmt](frame)


def export(path: Path | str, fmt: str) -> str:
    """The results of ``path`` rendered as ``fmt`` (one of ``FORMATS``)."""
    return render(results_frame(path), fmt)
