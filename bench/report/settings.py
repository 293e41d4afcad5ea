"""The settings behind a dataset's numbers: each attack's eps and parameters and each defense stage's parameters,
as the run recorded them, and where the attack presets come from (the paper's or ours).

A reader comparing with the paper needs to know that, e.g., mnist5k is not a
dataset of the paper and its eps 0.3 is our choice (the Madry MNIST
protocol), while CIFAR-10's 8/255 is the paper's.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from bench.jobs import CLEAN
from bench.report.load import DONE, ReportData
from bench.report.model import ReportTable
from bench.report.names import slug

# Datasets whose attack presets are the paper's (appendix A.4, Table 11); attacks.presets holds the values.
PAPER_DATASETS = frozenset({"svhn", "cifar10", "cifar100", "tinyimagenet"})
MNIST5K = "mnist5k"
MEASURED = "Largest perturbation measured"
LIBRARY_DEFAULT = "default"


def preset_origin(dataset: str) -> str:
    """Whose attack presets (eps, step size, steps) a dataset gets, in words."""
    source = dataset.partition(":")[0]
    if source in PAPER_DATASETS:
        return ("the paper's (appendix A.4 with Foolbox 3.3.4's defaults: PGD 40 steps as in Table 11, MIM 10 steps "
                "with momentum 1.0 and sign accumulation, C&W and DeepFool at Foolbox's defaults)")
    if source == MNIST5K:
        return ("ours, not the paper's: mnist5k is not one of the paper's datasets; it follows the Madry MNIST protocol "
                "(L-inf eps 0.3, step 0.01, 40 steps, for PGD and for MIM with Dong et al.'s L1 accumulation; "
                "L2 eps 2.0, step 0.1)")
    return "ours, not the paper's: a dataset the paper does not use gets the paper's CIFAR-10 settings"


def _params_text(params: object) -> str:
    """``key=value, ...`` of a parameter mapping or its JSON text (None as ``default``: the wrapped library's own)."""
    if isinstance(params, str):
        params = json.loads(params) if params else {}
    if not isinstance(params, dict):
        return ""
    return ", ".join(f"{k}={LIBRARY_DEFAULT if v is None else v}" for k, v in sorted(params.items()))


def _largest(done: pd.DataFrame) -> float:
    """The largest perturbation measured over ``done`` results (NaN where none recorded it)."""
    values = done["max_perturbation"].dropna() if "max_perturbation" in done else pd.Series(dtype=float)
    return float(values.max()) if not values.empty else math.nan


def attack_settings(data: ReportData, dataset: str) -> ReportTable | None:
    """A row per attack label, threat and eps: every parameter it ran with (defaults included) and the largest
    perturbation its results measured, beside the eps that bounds it."""
    cells = data.cells[(data.cells["dataset"] == dataset) & (data.cells["attack"] != CLEAN)]
    if cells.empty:
        return None
    records = []
    for (attack, threat, _), group in cells.groupby(["attack", "threat", "eps_key"], sort=False):
        done = group[group["status"] == DONE]
        resolved = data.details(done["job_key"].iloc[0]).get("attack_settings") if not done.empty else None
        record: dict[str, Any] = {"Attack": attack, "Name": group["column"].iloc[0], "Algorithm": group["attack_base"].iloc[0],
                                  "Threat": threat, "eps": float(group["eps"].iloc[0]), MEASURED: _largest(done),
                                  "Parameters": _params_text(resolved if resolved is not None else
                                                             (done["attack_params_json"].iloc[0] if not done.empty else "")),
                                  "Threat parameters": _params_text(done["threat_params_json"].iloc[0]) if not done.empty else ""}
        if group["lam"].notna().any():
            record["Threat parameters"] = ", ".join(filter(None, [record["Threat parameters"],
                                                                  f"lambda {len(group['lam'].dropna().unique())} values"]))
        records.append(record)
    frame = pd.DataFrame(records)
    if not frame["Threat parameters"].any():
        frame = frame.drop(columns="Threat parameters")
    note = (f"Attack presets for {dataset}: {preset_origin(dataset)}. Parameters: every one the attack ran with, its "
            f"defaults included ({LIBRARY_DEFAULT}: the wrapped library's own; blank: no result yet). eps and the largest "
            "perturbation measured over the row's results (||x_adv - x||, the largest over its examples) are in the "
            "attack's norm: L2 for C&W, L-inf for the others unless the parameters name a norm.")
    return ReportTable(slug(dataset, "attacks"), "Attack settings", note, frame, formats={"eps": "g", MEASURED: ".4g"})


def defense_settings(data: ReportData, dataset: str) -> ReportTable | None:
    """A row per defense stage label: its algorithm, every parameter it ran with and those the spec set."""
    done = data.cells[(data.cells["dataset"] == dataset) & (data.cells["status"] == DONE)]
    stacks = done[["stack_json", "job_key"]].dropna() if "stack_json" in done else pd.DataFrame(columns=["stack_json", "job_key"])
    stages: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}
    for stack_json, job_key in stacks.drop_duplicates("stack_json").itertuples(index=False):
        resolved = data.details(job_key).get("stage_settings", {})
        for stage in json.loads(stack_json):
            stages.setdefault(stage["label"], (stage, resolved.get(stage["label"])))
    if not stages:
        return None
    frame = pd.DataFrame([{"Stage": label, "Algorithm": stage["base"],
                           "Parameters (all)": _params_text(resolved) or ("(none)" if resolved is not None else ""),
                           "Set by the spec": _params_text(stage["params"])}
                          for label, (stage, resolved) in stages.items()])
    note = ("Defense stages of the stacks with a result: every parameter each ran with (the dataset preset resolved, "
            "defaults included; blank for a result recorded before the runner kept them), and those the spec set.")
    return ReportTable(slug(dataset, "defenses"), "Defense settings", note, frame)
