"""``bench.load_results(db)``: a results database for a notebook, its frame, per-example outcomes and adversarial images.

``Results.frame`` has one row per result, with these columns (accuracies are
percentages, as on every other surface):

===========================  ==========  ================================================================
column                       type        meaning
===========================  ==========  ================================================================
dataset, arch, recipe        str         the base classifier (``recipe``: the spec's label)
seed                         int         its seed (also the defense fit's and the attack's)
defense                      str         the stack, stages joined by ``+``
defense_params               str         each stage with its parameters: ``Blur(size=5)+aid``
attack                       str         the spec's label (``clean``: no perturbation)
attack_params                str         the algorithm and its resolved parameters: ``pgd: steps=40, ...``
threat                       str         the threat's label; ``threat_params`` its parameters
eps, lam                     float       perturbation budget; auxaware's lambda (NaN elsewhere)
source                       str | None  the transfer source (None elsewhere)
n, correct                   int         examples evaluated; correct after the defense on every draw
accuracy, ci_low, ci_high    float       ``correct / n`` in %, its 95% Clopper-Pearson interval
clean_accuracy               float       the same classifier and stack on clean inputs (%)
draws, accuracy_mean_draws   int, float  evaluations of a randomized stack; the mean accuracy over them
accuracy_undefended          float       the classifier alone on the same inputs (%)
seconds                      float       the evaluation's wall time
purify_seconds_per_image     float       the stack's purification time per image
device                       str         where it ran
finished                     datetime    when it finished (UTC)
job_key                      str         the key ``flags`` and ``adversarial`` take
===========================  ==========  ================================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bench.cache import ArtifactCache
from bench.errors import UserError
from bench.export import with_intervals
from bench.report.headline import stack_frame
from bench.report.load import load_report_data
from bench.run_context import ADVSETS
from bench.store import draw_flags_of, flags_of, results_rows
from bench.worst import CLEAN

COLUMNS = ("dataset", "arch", "recipe", "seed", "defense", "defense_params", "attack", "attack_params", "threat",
           "threat_params", "eps", "lam", "source", "n", "correct", "accuracy", "ci_low", "ci_high", "clean_accuracy",
           "draws", "accuracy_mean_draws", "accuracy_undefended", "seconds", "purify_seconds_per_image", "device",
           "finished", "job_key")
TYPES = {"seed": "int64", "n": "int64", "correct": "int64", "draws": "int64", "eps": "float64", "lam": "float64"}


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def _stack_text(stack_json: str) -> str:
    """``Blur(size=5)+aid``: each stage, with the parameters its spec entry or object set."""
    stages = json.loads(stack_json or "[]")
    return "+".join(f"{s['label']}({_params_text(s['params'])})" if s.get("params") else s["label"] for s in stages)


def _attack_text(row: dict[str, Any]) -> str:
    if row["attack"] == CLEAN:
        return ""
    params = _params_text(json.loads(row["attack_params_json"] or "{}"))
    return f"{row['attack_base']}: {params}" if params else row["attack_base"]


def _threat_text(row: dict[str, Any]) -> str:
    params = _params_text(json.loads(row["threat_params_json"] or "{}"))
    return f"{row['threat_model']}: {params}" if params else row["threat_model"]


def results_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The documented frame (see the module's docstring) of store rows."""
    rows = with_intervals(rows)
    clean = {(r["dataset"], r["classifier_key"], r["defense"]): r["accuracy"] for r in rows if r["attack"] == CLEAN}
    records = [{**r, "defense_params": _stack_text(r["stack_json"]), "attack_params": _attack_text(r),
                "threat_params": _threat_text(r), "correct": round(r["accuracy"] * r["n"] / 100),
                "clean_accuracy": clean.get((r["dataset"], r["classifier_key"], r["defense"]))} for r in rows]
    frame = pd.DataFrame(records, columns=COLUMNS).astype(TYPES)
    frame["finished"] = pd.to_datetime(frame["finished"], utc=True)
    return frame


@dataclass(frozen=True)
class Results:
    """A results database, read-only: ``frame`` and, per result (its ``job_key``), its flags and adversarial images."""

    path: Path
    frame: pd.DataFrame
    advsets: dict[str, str | None]  # job key -> the key of its adversarial set in the artifact cache (None: clean)

    def worst(self) -> pd.DataFrame:
        """One row per (dataset, arch, recipe, seed, defense): clean and worst accuracies (%) with intervals and the
        paired gain over none, the numbers of the report's worst-case table (``bench.worst.stack_worst``)."""
        return stack_frame(load_report_data(self.path))

    def flags(self, job_key: str) -> pd.DataFrame:
        """Per-example outcomes of a result: ``correct`` (after the defense, on every draw), ``correct_undefended``
        and, for a randomized stack, ``draw_0``, ``draw_1``, ... (one column per draw); one row per test example."""
        stored = flags_of(self.path, [job_key])
        if job_key not in stored:
            raise UserError(f"{self.path} has no result {job_key!r}; take a job_key from Results.frame")
        correct, undefended = stored[job_key]
        frame = pd.DataFrame({"correct": correct, "correct_undefended": undefended})
        draws = draw_flags_of(self.path, [job_key])[job_key]
        if len(draws) > 1:
            frame = frame.assign(**{f"draw_{i}": d for i, d in enumerate(draws)})
        return frame

    def adversarial(self, job_key: str, cache: ArtifactCache | None = None) -> torch.Tensor:
        """The adversarial images (n, C, H, W) a result was evaluated on, from the artifact cache."""
        if job_key not in self.advsets:
            raise UserError(f"{self.path} has no result {job_key!r}; take a job_key from Results.frame")
        key = self.advsets[job_key]
        if key is None:
            raise UserError(f"result {job_key!r} is on clean inputs ({CLEAN}): it has no adversarial set; "
                            "bench.load_dataset gives the clean images")
        cache = cache or ArtifactCache()
        artifact = cache.load(ADVSETS, key)
        if artifact is None:
            raise UserError(f"the adversarial set of {job_key!r} is not in the artifact cache {cache.root}; run the spec "
                            "of this database again to craft it (nothing else is recomputed)")
        return artifact.tensors["x_adv"]


def load_results(path: Path | str) -> Results:
    """The results database at ``path`` (``results/<name>.sqlite``), for reading from Python."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"results database {path} does not exist; give the .sqlite file a run wrote (see results/)")
    rows = results_rows(path)
    return Results(path, results_table(rows), {r["job_key"]: r["advset_key"] for r in rows})
