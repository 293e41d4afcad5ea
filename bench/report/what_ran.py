"""What actually ran, for the report's header: the resolved spec's matrix, n, seeds and eps, and the command line's
overrides of the spec file, so a run of ``quick.toml --n 30 --defense none,aid`` is not shown as ``quick.toml``.

Everything comes from the resolved spec the run recorded (its identity) and the planned cells, never from the
spec file's text, which the overrides changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.report.load import ReportData
from bench.report.model import ReportTable
from bench.report.names import eps_text
from bench.spec.model import DEFAULT_DRAWS

LIST_SEPARATOR = ", "


@dataclass(frozen=True)
class WhatRan:
    facts: list[tuple[str, str]]  # (what, value): n, seeds, draws, device, threads, batch size
    matrix: ReportTable | None  # one row per block of the resolved spec (None: the run recorded no blocks)
    overrides: list[tuple[str, str]]  # (spec key, value as given) of each flag and --set the run was started with


def _listed(values: object) -> str:
    if isinstance(values, (list, tuple)):
        return LIST_SEPARATOR.join(_listed(v) for v in values)
    if isinstance(values, dict):
        return json.dumps(values, sort_keys=True, default=str)
    return str(values)


def _block_cells(block: dict[str, Any], cells: pd.DataFrame) -> pd.DataFrame:
    """The planned cells of a block's attacks (clean cells belong to no attack's block)."""
    if cells.empty:
        return cells
    return cells[cells["dataset"].isin(block.get("datasets", [])) & cells["attack"].isin(block.get("attacks", []))
                 & cells["threat"].isin(block.get("threats", [])) & cells["defense"].isin(block.get("defenses", []))]


def _eps_ran(block: dict[str, Any], mine: pd.DataFrame) -> str:
    """The eps each of the block's attacks ran at: the block's own list, else what its planned cells carry."""
    if block.get("eps"):
        return _listed([eps_text(e) for e in block["eps"]])
    parts = []
    for attack in block.get("attacks", []):
        values = sorted(set(mine.loc[mine["attack"] == attack, "eps"])) if not mine.empty else []
        parts.append(f"{attack} {'/'.join(eps_text(e) for e in values)}" if values else f"{attack} (preset)")
    return "; ".join(parts)


def _present(mine: pd.DataFrame, column: str) -> list[Any]:
    """The distinct values of ``column`` among the block's cells, in plan order (lambda and sources: only where a threat
    uses them)."""
    if mine.empty or column not in mine:
        return []
    return list(dict.fromkeys(v for v in mine[column] if v is not None and not (isinstance(v, float) and v != v)))


def _matrix(spec: dict[str, Any], cells: pd.DataFrame) -> ReportTable | None:
    blocks = spec.get("blocks")
    if not blocks:
        return None
    rows = []
    for i, block in enumerate(blocks, start=1):
        mine = _block_cells(block, cells)
        rows.append({"Block": i, "Datasets": _listed(block.get("datasets", [])), "Archs": _listed(block.get("archs", [])),
                     "Recipes": _listed(block.get("recipes", [])), "Defense stacks": _listed(block.get("defenses", [])),
                     "Attacks": _listed(block.get("attacks", [])), "Threats": _listed(block.get("threats", [])),
                     "eps": _eps_ran(block, mine), "λ": _listed([f"{v:g}" for v in sorted(_present(mine, "lam"))]),
                     "Sources": _listed(_present(mine, "source")), "Audit": "yes" if block.get("audit") else "no"})
    frame = pd.DataFrame(rows)
    frame = frame[[c for c in frame.columns if (frame[c] != "").any()]]  # λ and sources only where a threat uses them
    return ReportTable("provenance-matrix", "Matrix of the resolved spec", "The resolved spec's matrix, one row per block (each block a "
                       "cross product of its axes), after the command line's overrides.", frame)


def _seeds(spec: dict[str, Any], run: dict[str, Any]) -> str:
    seeds = spec.get("seeds")
    return _listed(seeds) if seeds else str(spec.get("seed", run["seed"]))


def what_ran(data: ReportData) -> WhatRan:
    """The header's account of the run: its resolved spec first, the overrides that made it from the file named."""
    spec, run = data.spec, data.run
    n = spec.get("n", run["n"])
    facts = [("n (first test examples)", "all" if n is None else str(n)), ("Seeds", _seeds(spec, run)),
             ("Draws of a randomized stack", str(spec.get("draws", DEFAULT_DRAWS))),
             ("Device (spec)", str(spec.get("device", run["device"])))]
    facts += [(what, str(spec[key])) for key, what in (("threads", "Threads"), ("batch_size", "Batch size"))
              if spec.get(key) is not None]
    given = json.loads(run.get("overrides_json") or "{}")
    overrides = [(key, _listed(value)) for key, value in given.items()]
    return WhatRan(facts, _matrix(spec, data.cells), overrides)
