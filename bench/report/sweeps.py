"""Sensitivity tables, when a run has them: attack eps (Table 11a), attack parameters such as the number of
iterations (Table 11b), defense parameters such as its eps and N (Figure 6, Table 17), and the auxiliary-aware
lambda sweep (the data of Figure 4).

Each sweep is a table whose first column is the swept value and whose other
columns are series (a classifier and defense stack each), so the same frame
is exported and plotted.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

import pandas as pd

from bench.report.layout import main_eps, percent_of
from bench.report.load import DONE, ReportData
from bench.report.matrix import oblivious_cells
from bench.report.model import BEST, MISSING, ReportTable
from bench.jobs import CLEAN
from bench.report.names import NONE_STACK, slug

PRESET = "preset"
ZERO = "0"


def series_name(classifier: str, defense: str) -> str:
    return classifier if defense == NONE_STACK else f"{classifier} + {defense}"


def _series_cell(rows: pd.DataFrame, position: int, column: str, marks: dict, tips: dict) -> float:
    """The accuracy (%) of one sweep cell; a cell without a result is marked missing."""
    value, lacking = percent_of(rows)
    if lacking:
        marks[(position, column)] = MISSING
        tips[(position, column)] = lacking
    return value


def attack_eps_sweeps(data: ReportData, dataset: str) -> list[ReportTable]:
    """One table per attack run at several eps: a row per eps, a column per classifier and stack."""
    cells = oblivious_cells(data.cells[data.cells["dataset"] == dataset])
    clean = cells[cells["attack"] == CLEAN].assign(eps_key=ZERO)  # eps 0: the attack cannot move x, accuracy is clean
    tables = []
    for attack, group in cells.groupby("attack", sort=False):
        if group["eps_key"].nunique() < 2:
            continue
        main = main_eps(group)[attack]
        pairs = [p for p, g in group.groupby(["classifier", "defense"], sort=False) if g["eps_key"].nunique() > 1]
        swept = group if (group["eps_key"].astype(float) == 0).any() else pd.concat([clean, group])
        records, marks, tips = [], {}, {}
        for position, eps in enumerate(sorted(swept["eps_key"].unique(), key=float)):
            record: dict[str, Any] = {"eps": float(eps), "In Table 3": eps == main}
            for classifier, defense in pairs:
                rows = swept[(swept["classifier"] == classifier) & (swept["defense"] == defense) & (swept["eps_key"] == eps)]
                column = series_name(classifier, defense)
                record[column] = _series_cell(rows, position, column, marks, tips)
            records.append(record)
        name = group["column"].iloc[0]
        note = (f"Accuracy (%) under {name} (oblivious threat: the attack sees the classifier only) for each attack eps, "
                f"as in the paper's Table 11(a); eps 0 is the clean accuracy (an attack without budget leaves the input "
                f"as it is); Table 3 shows eps {main}.")
        tables.append(ReportTable(slug(dataset, "sweep-eps", attack), f"Attack eps sweep: {name} (oblivious threat)", note,
                                  pd.DataFrame(records), marks, tips, formats={"eps": "g"}, x="eps", n=single_n(swept)))
    return tables


def single_n(cells: pd.DataFrame) -> int | None:
    """The n of every done cell, when they share one (their accuracies' intervals then follow from it)."""
    ns = set(cells.loc[cells["status"] == DONE, "n"].dropna().astype(int))
    return ns.pop() if len(ns) == 1 else None


def _attack_params(cells: pd.DataFrame, labels: list[str], spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each attack label's parameters as the run used them (presets filled in) when every label has a result,
    else as the spec gave them (unset: the preset), so that the labels are compared on the same footing."""
    done = cells[cells["status"] == DONE].drop_duplicates("attack").set_index("attack")
    if set(labels) <= set(done.index):
        return {label: json.loads(done.at[label, "attack_params_json"] or "{}") for label in labels}
    return {label: dict(spec.get("attacks", {}).get(label, {}).get("params", {})) for label in labels}


def varying(params: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The parameter names whose values differ between the named parameter sets."""
    keys = sorted({k for p in params.values() for k in p})
    return [k for k in keys if len({json.dumps(p.get(k), sort_keys=True, default=str) for p in params.values()}) > 1]


def differing(params: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """For each name, the parameters that differ between the names, as ``key=value`` text (``preset`` when unset)."""
    keys = varying(params)
    return {name: ", ".join(f"{k}={PRESET if p.get(k) is None else p.get(k)}" for k in keys) for name, p in params.items()}


def attack_variant_sweeps(data: ReportData, dataset: str) -> list[ReportTable]:
    """One table per algorithm run under several labels (e.g. pgd with 40 and 100 steps), as Table 11(b)."""
    cells = oblivious_cells(data.cells[data.cells["dataset"] == dataset])
    tables = []
    for base, group in cells.groupby("attack_base", sort=False):
        labels = list(dict.fromkeys(group["attack"]))
        if len(labels) < 2:
            continue
        eps = main_eps(group)
        at_main = group[[e == eps[a] for a, e in zip(group["attack"], group["eps_key"])]]
        params = differing(_attack_params(at_main, labels, data.spec))
        pairs = [p for p, g in at_main.groupby(["classifier", "defense"], sort=False) if g["attack"].nunique() > 1]
        records, marks, tips = [], {}, {}
        for position, label in enumerate(labels):
            record: dict[str, Any] = {"Attack": label, "Parameters": params[label], "eps": float(eps[label])}
            for classifier, defense in pairs:
                rows = at_main[(at_main["classifier"] == classifier) & (at_main["defense"] == defense) & (at_main["attack"] == label)]
                column = series_name(classifier, defense)
                record[column] = _series_cell(rows, position, column, marks, tips)
            records.append(record)
        name = group.loc[group["attack"] == base, "column"].iloc[0] if base in labels else base
        note = f"Accuracy (%) under variants of {name} (oblivious threat), as in the paper's Table 11(b)."
        tables.append(ReportTable(slug(dataset, "sweep-attack", base), f"Attack parameter sweep: {name}", note,
                                  pd.DataFrame(records), marks, tips, formats={"eps": "g"}))
    return tables


def _number(value: Any) -> float:
    """A numeric parameter value, NaN for anything else (a preset, a string)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _stack_params(stack: str, spec: Mapping[str, Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """A stack's stage bases and its parameters (``base.key`` for stacks of several stages)."""
    stages = stack.split("+")
    entries = [spec.get("defenses", {}).get(s, {"base": s, "params": {}}) for s in stages]
    bases = tuple(e["base"] for e in entries)
    if len(stages) == 1:
        return bases, dict(entries[0]["params"])
    return bases, {f"{e['base']}.{k}": v for e in entries for k, v in e["params"].items()}


def defense_sweeps(matrix: ReportTable, spec: Mapping[str, Any], dataset: str, n: int | None = None) -> list[ReportTable]:
    """Table 3's rows of stacks that share their stages' algorithms but not their parameters (Figure 6, Table 17);
    ``n``: the examples behind each of its accuracies, when one n serves them all."""
    frame = matrix.frame
    structures: dict[tuple[str, ...], dict[str, dict[str, Any]]] = {}
    for defense in dict.fromkeys(frame["Defense"]):
        bases, params = _stack_params(defense, spec)
        structures.setdefault(bases, {})[defense] = params
    tables = []
    for bases, members in structures.items():
        if len(members) < 2:
            continue
        params = differing(members)
        rows = frame[frame["Defense"].isin(members)].copy()
        rows.insert(3, "Parameters", rows["Defense"].map(params))
        keys = varying(members)
        values = [_number(members[d].get(keys[0])) for d in rows["Defense"]] if len(keys) == 1 else []
        if sum(not math.isnan(v) for v in values) >= 2:
            rows.insert(4, keys[0], values)  # one numeric parameter varies: the x axis of its figure (NaN: preset)
        name = "+".join(bases)
        note = (f"Table 3's rows for the variants of {name}: accuracy (%) for each setting of its parameters, as the paper's "
                f"Figure 6 (defense eps) and Table 17 (defense iterations N) show.")
        x = keys[0] if len(keys) == 1 and keys[0] in rows.columns else None
        position = {old: new for new, old in enumerate(rows.index)}
        marks = {(position[i], c): m for (i, c), m in matrix.marks.items() if i in position and m != BEST}
        tips = {(position[i], c): t for (i, c), t in matrix.tips.items() if i in position}
        rows = rows.drop(columns=[c for c in rows.columns if c.startswith("Gain")]).reset_index(drop=True)
        tables.append(ReportTable(slug(dataset, "sweep-defense", name), f"Defense parameter sweep: {name}", note, rows,
                                  marks, tips, section="Section", formats={x: "g"} if x else {}, x=x, n=n))
    return tables


def lambda_cells(cells: pd.DataFrame) -> pd.Series:
    """Which cells belong to a lambda sweep: those of a threat with a lambda axis (auxaware), the only ones with ``lam``."""
    return cells["lam"].notna()


def lambda_sweep(data: ReportData, dataset: str) -> ReportTable | None:
    """Figure 4's data: for each lambda, accuracy before purification (C on x_adv) and after (C on purify(x_adv))."""
    cells = data.cells[(data.cells["dataset"] == dataset) & lambda_cells(data.cells)]
    done = cells[cells["status"] == DONE]
    if done.empty:
        return None
    several = done.groupby(["attack", "threat", "eps_key"]).ngroups > 1
    records: dict[float, dict[str, Any]] = {}
    for (classifier, defense, attack, threat, eps), group in done.groupby(
            ["classifier", "defense", "attack", "threat", "eps_key"], sort=False):
        series = series_name(classifier, defense) + (f" ({attack}/{threat} eps {eps})" if several else "")
        for row in group.itertuples():
            record = records.setdefault(row.lam, {"lambda": row.lam})
            record[f"{series}: before"] = round(100 * row.accuracy_undefended, 2)
            record[f"{series}: after"] = round(100 * row.accuracy, 2)
    frame = pd.DataFrame([records[lam] for lam in sorted(records)])
    missing = len(cells) - len(done)
    note = ("Auxiliary-aware attack (the paper's eq. 2): maximise (1 - lambda) L_C - lambda L_D. Before: accuracy of the "
            "classifier on the adversarial examples; after: on their purification, as in Figure 4."
            + (f" {missing} planned cells have no result yet." if missing else ""))
    return ReportTable(slug(dataset, "lambda"), "Figure 4 data: auxiliary-aware attack against lambda", note, frame,
                       formats={"lambda": "g"}, x="lambda")
