"""What a planned evaluate job that has no result would have measured, read back from its label.

The store keeps a planned job's key, kind and label only; a partial run's
report still places a missing cell in its table, so the label the planner
wrote (``evaluate STACK | WHAT | DATASET/ARCH/RECIPE/seedN``, WHAT being
``clean`` or ``ATTACK/THREAT eps=E[ lam=L][ from SOURCE]``) is parsed here.
"""

from __future__ import annotations

import re
from typing import Any

from attacks.threats import DEFAULT_THREAT
from bench.report.names import CLEAN

_EVALUATE = re.compile(r"^evaluate (?P<defense>\S+) \| (?P<what>.+) \| (?P<classifier>.+)/(?P<arch>[^/]+)/(?P<recipe>[^/]+)/seed(?P<seed>\d+)$")
_ATTACK = re.compile(r"^(?P<attack>[^/\s]+)/(?P<threat>\S+) eps=(?P<eps>\S+)(?: lam=(?P<lam>\S+))?(?: from (?P<source>.+))?$")


def parse_evaluate_label(label: str) -> dict[str, Any] | None:
    """The result labels of an evaluate job's label, or None when it is not one."""
    match = _EVALUATE.match(label)
    if match is None:
        return None
    cell: dict[str, Any] = {"defense": match["defense"], "dataset": match["classifier"], "arch": match["arch"],
                            "recipe": match["recipe"], "seed": int(match["seed"])}
    what = match["what"]
    if what == CLEAN:
        return {**cell, "attack": CLEAN, "threat": DEFAULT_THREAT, "eps": 0.0, "lam": None, "source": None}
    attack = _ATTACK.match(what)
    if attack is None:
        return None
    lam = attack["lam"]
    return {**cell, "attack": attack["attack"], "threat": attack["threat"], "eps": float(attack["eps"]),
            "lam": float(lam) if lam is not None else None, "source": attack["source"]}
