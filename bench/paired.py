"""Paired comparisons of results measured on the same examples: each stack against ``none`` (and, through
``compare_flags``, an adaptive attack against the oblivious one).

Both sides of a pair ran on the same first n test examples, so the exact
McNemar test on the per-example flags (``bench.statistics``) says whether
their difference is more than noise, where two separate intervals would
overlap and say nothing.  Accuracies and differences are percentages.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from bench.statistics import paired_comparison
from bench.worst import CLASSIFIER_KEYS, DONE, NONE_STACK, survivors

SETTING_KEYS = ("attack", "threat", "eps", "lam", "source")


def _done(results: pd.DataFrame, flags: Mapping[str, np.ndarray]) -> pd.DataFrame:
    status = results["status"] if "status" in results else pd.Series(DONE, index=results.index)
    return results[(status == DONE) & results["job_key"].isin(flags.keys())]


def _key(row: Mapping[str, object], keys: tuple[str, ...]) -> tuple:
    return tuple(None if isinstance(row[k], float) and math.isnan(row[k]) else row[k] for k in keys)


def compare_flags(mine: np.ndarray, theirs: np.ndarray) -> dict[str, float]:
    """``mine`` minus ``theirs`` (flags, one row per draw allowed) in points: difference, ci_low, ci_high, p_value."""
    a, b = survivors([mine]), survivors([theirs])
    if a is None or b is None or len(a) != len(b):
        return {"difference": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    paired = paired_comparison(a, b)
    return {"difference": 100 * paired.difference, "ci_low": 100 * paired.low, "ci_high": 100 * paired.high,
            "p_value": paired.p_value}


def versus_none(results: pd.DataFrame, flags: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Each result of a stack other than ``none`` against ``none``'s on the same classifier and attack setting."""
    done = _done(results, flags)
    keys = (*CLASSIFIER_KEYS, *SETTING_KEYS)
    nones = {_key(r, keys): r for r in done[done["defense"] == NONE_STACK].to_dict("records")}
    rows = []
    for r in done[done["defense"] != NONE_STACK].to_dict("records"):
        base = nones.get(_key(r, keys))
        if base is not None:
            rows.append({**{k: r[k] for k in (*CLASSIFIER_KEYS, "defense", *SETTING_KEYS, "n")},
                         "accuracy": 100 * r["accuracy"], "accuracy_none": 100 * base["accuracy"],
                         **compare_flags(flags[r["job_key"]], flags[base["job_key"]])})
    return pd.DataFrame(rows)
