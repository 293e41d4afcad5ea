"""A results database read into pandas for the report: every planned evaluate cell, done or missing.

``cells`` has one row per evaluate job of the current plan: the stored result
when the job is done, otherwise the labels the plan stored for it with status
``pending``, ``failed`` or ``skipped`` and no accuracy, so every table can
show what is missing instead of silently dropping it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from attacks.threats import role_of
from bench.errors import UserError
from bench.attack_names import attack_column
from bench.report.names import eps_text, section_of
from bench.store import draw_flags_of, flags_of, job_rows, results_rows, run_info

DONE = "done"
EVALUATE = "evaluate"


@dataclass(frozen=True)
class ReportData:
    """A results database as the report sees it; flags are read on demand (they are the bulk of it)."""

    path: Path
    run: dict[str, Any]  # the run row, with its sessions
    spec: dict[str, Any]  # the resolved spec (its identity) the run recorded
    cells: pd.DataFrame
    jobs: pd.DataFrame  # every planned job with its status

    def flags(self, job_keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Per-example correct flags (after the defense) of the given done evaluate jobs."""
        return {key: correct for key, (correct, _) in flags_of(self.path, job_keys).items()}

    def details(self, job_key: str) -> dict[str, Any]:
        """What a finished job recorded beside its result (empty for a job without details)."""
        found = self.jobs.loc[self.jobs["key"] == job_key, "details_json"]
        text = found.iloc[0] if not found.empty else None
        return json.loads(text) if isinstance(text, str) and text else {}

    def draw_flags(self, job_keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Per-example correct flags of each draw (draws, n) of the given done evaluate jobs."""
        return draw_flags_of(self.path, job_keys)

    def done_keys(self) -> list[str]:
        return list(self.cells.loc[self.cells["status"] == DONE, "job_key"])

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.cells["dataset"]))


def load_report_data(path: Path | str) -> ReportData:
    """Everything the report needs from the database at ``path`` (read-only)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"results database {path} does not exist; give the .sqlite file a run wrote (see results/)")
    run = run_info(path)
    spec = json.loads(run.get("spec_json") or "{}")
    jobs = pd.DataFrame(job_rows(path), columns=["key", "kind", "label", "status", "error", "seconds", "started", "finished",
                                                 "device", "details_json", "labels_json"])
    done = pd.DataFrame(results_rows(path)).assign(status=DONE, error=None)
    missing = _missing_cells(jobs)
    frames = [f for f in (done, missing) if not f.empty]
    cells = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["dataset", "job_key", "status"])
    return ReportData(path, run, spec, _with_names(cells, spec), jobs)


def _missing_cells(jobs: pd.DataFrame) -> pd.DataFrame:
    """Evaluate jobs of the plan without a result, as cells with their stored labels and status."""
    rows = []
    for job in jobs[(jobs["kind"] == EVALUATE) & (jobs["status"] != DONE)].itertuples():
        if not isinstance(job.labels_json, str):
            continue  # a plan recorded before labels were stored: listed with the missing jobs in the provenance section
        rows.append({**json.loads(job.labels_json), "job_key": job.key, "status": job.status, "error": job.error,
                     "accuracy": np.nan, "accuracy_undefended": np.nan})
    return pd.DataFrame(rows)


def _base(spec: dict[str, Any], kind: str, label: str) -> str:
    """The registered name behind a spec label (a variant names its base with ``use``)."""
    return spec.get(kind, {}).get(label, {}).get("base", label)


def _attack_params(recorded: object, spec: dict[str, Any], label: str) -> dict[str, Any]:
    """An attack's parameters as its result recorded them, or as the spec gives them for a cell without a result."""
    if isinstance(recorded, str) and recorded:
        return json.loads(recorded)
    return dict(spec.get("attacks", {}).get(label, {}).get("params", {}))


def _with_names(cells: pd.DataFrame, spec: dict[str, Any]) -> pd.DataFrame:
    """Add the names tables group by: classifier, recipe base, section, attack column, eps text, threat role."""
    if cells.empty:
        return cells.assign(classifier=[], recipe_base=[], section=[], column=[], eps_key=[], threat_role=[])
    cells = cells.copy()
    given = spec.get("classifiers", {})  # bench.external_classifiers: recipe label -> its source
    cells["recipe_base"] = [given[r]["source"] if r in given else _base(spec, "recipes", r) for r in cells["recipe"]]
    cells["section"] = cells["recipe_base"].map(section_of)
    cells["column"] = [attack_column(a, b, _attack_params(p, spec, a))
                       for a, b, p in zip(cells["attack"], cells["attack_base"], cells.get("attack_params_json", [None] * len(cells)))]
    cells["eps_key"] = cells["eps"].map(eps_text)
    cells["threat_role"] = [role_of(t).value for t in cells["threat_model"]]
    cells["classifier"] = _classifier_labels(cells)
    return cells


def _classifier_labels(cells: pd.DataFrame) -> list[str]:
    """The recipe, with the arch where a dataset has several archs and the seed where it has several seeds."""
    labels = []
    per_dataset = cells.groupby("dataset")
    archs = per_dataset["arch"].nunique()
    seeds = per_dataset["seed"].nunique()
    for dataset, arch, recipe, seed in zip(cells["dataset"], cells["arch"], cells["recipe"], cells["seed"]):
        label = f"{arch}/{recipe}" if archs[dataset] > 1 else str(recipe)
        labels.append(f"{label} (seed {seed})" if seeds[dataset] > 1 else label)
    return labels
