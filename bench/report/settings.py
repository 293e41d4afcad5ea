"""The settings behind a dataset's numbers: each attack's eps and parameters and each defense stage's parameters,
as the run recorded them, and where the attack presets come from (the paper's or ours).

A reader comparing with the paper needs to know that, e.g., mnist5k is not a
dataset of the paper and its eps 0.3 is our choice (the Madry MNIST
protocol), while CIFAR-10's 8/255 is the paper's.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from bench.jobs import CLEAN
from bench.report.load import DONE, ReportData
from bench.report.model import ReportTable
from bench.report.names import slug

# Datasets whose attack presets are the paper's (appendix A.4, Table 11); attacks.presets holds the values.
PAPER_DATASETS = frozenset({"svhn", "cifar10", "cifar100", "tinyimagenet"})
MNIST5K = "mnist5k"


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


def _params_text(params_json: object) -> str:
    params = json.loads(params_json) if isinstance(params_json, str) and params_json else {}
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def attack_settings(data: ReportData, dataset: str) -> ReportTable | None:
    """A row per attack label and threat: the eps it was run at and its parameters with the presets filled in."""
    cells = data.cells[(data.cells["dataset"] == dataset) & (data.cells["attack"] != CLEAN)]
    if cells.empty:
        return None
    records = []
    for (attack, threat), group in cells.groupby(["attack", "threat"], sort=False):
        done = group[group["status"] == DONE]
        eps = sorted({float(e) for e in group["eps"]})
        record: dict[str, Any] = {"Attack": attack, "Algorithm": group["attack_base"].iloc[0], "Threat": threat,
                                  "eps": ", ".join(f"{e:g}" for e in eps),
                                  "Parameters": _params_text(done["attack_params_json"].iloc[0]) if not done.empty else "",
                                  "Threat parameters": _params_text(done["threat_params_json"].iloc[0]) if not done.empty else ""}
        if group["lam"].notna().any():
            record["Threat parameters"] = ", ".join(filter(None, [record["Threat parameters"],
                                                                  f"lambda {len(group['lam'].dropna().unique())} values"]))
        records.append(record)
    frame = pd.DataFrame(records)
    if not frame["Threat parameters"].any():
        frame = frame.drop(columns="Threat parameters")
    note = (f"Attack presets for {dataset}: {preset_origin(dataset)}. Parameters as the run used them (presets filled in; "
            "blank: the attack's defaults, or no result yet); eps in the attack's norm: L2 for C&W, L-inf for the others "
            "unless the parameters name a norm.")
    return ReportTable(slug(dataset, "attacks"), "Attack settings", note, frame)


def defense_settings(data: ReportData, dataset: str) -> ReportTable | None:
    """A row per defense stage label: its algorithm and the parameters the spec set (the rest are its presets)."""
    done = data.cells[(data.cells["dataset"] == dataset) & (data.cells["status"] == DONE)]
    stacks = done["stack_json"].dropna() if "stack_json" in done else []
    stages: dict[str, dict[str, Any]] = {}
    for stack_json in dict.fromkeys(stacks):
        for stage in json.loads(stack_json):
            stages.setdefault(stage["label"], stage)
    if not stages:
        return None
    frame = pd.DataFrame([{"Stage": label, "Algorithm": stage["base"],
                           "Parameters set by the spec": ", ".join(f"{k}={v}" for k, v in sorted(stage["params"].items()))}
                          for label, stage in stages.items()])
    note = "Defense stages of the stacks with a result; parameters the spec does not set take the defense's own presets."
    return ReportTable(slug(dataset, "defenses"), "Defense settings", note, frame)
