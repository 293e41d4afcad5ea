"""``run_bench.py compare DB1 DB2 ...``: one leaderboard across results databases, in the manner of RobustBench's.

One row per (dataset, classifier, defense stack), sorted by the unqualified
worst case (``bench.worst``) within each dataset, with clean accuracy, both
worst columns, their 95% intervals, the audit verdict (``no audit`` for a
stack its database never audited, so a missing verdict is not read as a
clean one) and where each run's report is.  Rows are comparable only when they were measured
the same way, so databases whose shared datasets differ in n, in the attacks
run (with their parameters and eps) or in the threat definitions are refused
with the first difference named, unless ``allow_mismatch`` is given.  A stack
found in several databases is taken from the first one given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from bench.errors import UserError
from bench.report.headline import interval_text, stack_frame
from bench.report.load import load_report_data
from bench.report.render import default_out_dir
from bench.report.verdicts import audit_verdicts
from bench.store import results_rows
from bench.worst import STACK_KEYS

COLUMNS = ("dataset", "arch", "recipe", "seed", "defense", "n", "clean", "clean_ci_low", "clean_ci_high", "worst",
           "worst_ci_low", "worst_ci_high", "worst_column", "worst_paper", "results", "threats", "complete", "audit", "run",
           "database", "report")
DISPLAY = {"dataset": "Dataset", "classifier": "Classifier", "defense": "Defense", "n": "n", "clean": "Clean",
           "clean_ci": "Clean 95% CI", "worst": "Worst", "worst_ci": "Worst 95% CI", "worst_column": "Worst (column minimum)",
           "worst_paper": "Worst (paper columns)", "results": "Results", "threats": "Threats", "audit": "Audit", "run": "Run",
           "report": "Report"}


#: The audit column of a stack without audit rows in its database.
NO_AUDIT = "no audit"


class MismatchError(UserError):
    """Databases whose results were measured under different settings."""


@dataclass(frozen=True)
class Protocol:
    """How a dataset's results in one database were measured: what makes two of its numbers comparable."""

    n: tuple[int, ...]
    attacks: dict[str, dict[str, Any]]  # "attack/threat" -> algorithm, parameters, eps
    threats: dict[str, dict[str, Any]]  # threat label -> model and parameters


def protocols(path: Path | str) -> dict[str, Protocol]:
    """Per dataset, the protocol of the results in the database at ``path``."""
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for row in results_rows(path):
        by_dataset.setdefault(row["dataset"], []).append(row)
    out = {}
    for dataset, rows in by_dataset.items():
        attacks: dict[str, dict[str, Any]] = {}
        threats: dict[str, dict[str, Any]] = {}
        for r in rows:
            name = f"{r['attack']}/{r['threat']}"
            entry = attacks.setdefault(name, {"algorithm": r["attack_base"], "parameters": _params(r["attack_params_json"]),
                                              "eps": set()})
            entry["eps"].add(r["eps"])
            threats.setdefault(r["threat"], {"model": r["threat_model"], "parameters": _params(r["threat_params_json"])})
        for entry in attacks.values():
            entry["eps"] = ", ".join(f"{e:g}" for e in sorted(entry["eps"]))
        out[dataset] = Protocol(tuple(sorted({r["n"] for r in rows})), attacks, threats)
    return out


def _params(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def difference(a: Protocol, b: Protocol) -> str | None:
    """The first way ``a`` and ``b`` differ, in words (None when they agree)."""
    if a.n != b.n:
        return f"n = {_list(a.n)} against n = {_list(b.n)}"
    only = sorted(a.attacks.keys() ^ b.attacks.keys())
    if only:
        return f"attacks run: {only[0]} only in {'the first' if only[0] in a.attacks else 'the second'}"
    for name in sorted(a.attacks):
        for field in ("algorithm", "eps", "parameters"):
            if a.attacks[name][field] != b.attacks[name][field]:
                return f"{field} of {name}: {a.attacks[name][field]} against {b.attacks[name][field]}"
    for name in sorted(a.threats):
        if name in b.threats and a.threats[name] != b.threats[name]:
            return f"threat {name}: {a.threats[name]} against {b.threats[name]}"
    return None


def _list(values: Iterable[int]) -> str:
    return ", ".join(map(str, values))


def check_comparable(paths: Sequence[Path]) -> None:
    """Refuse databases whose shared datasets were measured differently, naming the first difference."""
    seen: dict[str, tuple[Path, Protocol]] = {}
    for path in paths:
        for dataset, protocol in protocols(path).items():
            if dataset not in seen:
                seen[dataset] = (path, protocol)
                continue
            first, reference = seen[dataset]
            why = difference(reference, protocol)
            if why is not None:
                raise MismatchError(f"{first} and {path} measured {dataset} differently ({why}); their rows are not "
                                    "comparable. Compare runs of one protocol, or pass --allow-mismatch to put them in one "
                                    "table anyway")


def leaderboard(paths: Sequence[Path | str], *, allow_mismatch: bool = False) -> pd.DataFrame:
    """The rows of every database at ``paths``, one per stack, best worst case first within each dataset."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise UserError("compare needs at least one results database (results/*.sqlite)")
    if not allow_mismatch:
        check_comparable(paths)
    frames = []
    for path in paths:
        data = load_report_data(path)
        stacks = stack_frame(data)
        if stacks.empty:
            continue
        verdicts = audit_verdicts(path)
        report = default_out_dir(data.run["name"]) / "index.html"
        frames.append(stacks.assign(
            audit=[verdicts.get(tuple(r[k] for k in STACK_KEYS), NO_AUDIT) for r in stacks.to_dict("records")],
            run=data.run["name"], database=str(path), report=str(report) if report.is_file() else None))
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    rows = pd.concat(frames, ignore_index=True).drop_duplicates(list(STACK_KEYS), keep="first")
    order = {d: i for i, d in enumerate(dict.fromkeys(rows["dataset"]))}
    rows = rows.assign(_dataset=rows["dataset"].map(order), _worst=rows["worst"].fillna(-math.inf))
    rows = rows.sort_values(["_dataset", "_worst", "clean"], ascending=[True, False, False], kind="stable")
    return rows.reindex(columns=COLUMNS).reset_index(drop=True)


def display_frame(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as a paper shows it: accuracies (%) to two decimals, intervals as text, the classifier in one column."""
    shown = board.assign(classifier=[f"{a}/{r}/seed{s}" for a, r, s in zip(board["arch"], board["recipe"], board["seed"])],
                         clean_ci=[interval_text(lo, hi) for lo, hi in zip(board["clean_ci_low"], board["clean_ci_high"])],
                         worst_ci=[interval_text(lo, hi) for lo, hi in zip(board["worst_ci_low"], board["worst_ci_high"])])
    shown = shown.assign(**{c: shown[c].round(2) for c in ("clean", "worst", "worst_column", "worst_paper")})
    shown["n"] = shown["n"].astype("Int64")
    return shown.reindex(columns=list(DISPLAY)).rename(columns=DISPLAY)
