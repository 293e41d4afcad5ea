"""The name of an attack as every table and export shows it: the paper's column name, a variant's label, and
whether a run of a published ensemble used its published settings.

A reduced AutoAttack (fewer iterations, target classes or queries) is not
AutoAttack as published: AutoAttack itself calls changed settings a custom
version, and so does every header and export here.
"""

from __future__ import annotations

from typing import Any, Mapping

from attacks.autoattack import CUSTOM_SETTINGS as AUTOATTACK_CUSTOM

# The paper's column names, in Table 3's order; AutoAttack as in its Table 13.
ATTACK_NAMES = {"clean": "Clean", "pgd": "PGD", "cw": "C&W", "deepfool": "DF", "mim": "MIM", "autoattack": "AutoAttack",
                "square": "Square", "ssp": "SSP"}
# Attacks named for their loss as their authors name them (APGD-CE, APGD-DLR): the loss parameter and its default.
NAMED_BY_LOSS = {"apgd": ("APGD", "ce")}

# Per algorithm: the parameters whose setting makes it a custom version of a published ensemble, and its standard version.
CUSTOM_WHEN_SET = {"autoattack": AUTOATTACK_CUSTOM}
STANDARD_VERSION = {"autoattack": "standard"}


def attack_qualifiers(base: str, params: Mapping[str, Any] | None) -> list[str]:
    """What sets a run apart from the published ensemble: ``["rand", "custom: n_iter=20, n_queries=300"]``."""
    params = params or {}
    qualifiers = []
    version = params.get("version")
    if base in STANDARD_VERSION and version not in (None, STANDARD_VERSION[base]):
        qualifiers.append(str(version))
    changed = [f"{k}={params[k]}" for k in CUSTOM_WHEN_SET.get(base, ()) if params.get(k) is not None]
    if changed:
        qualifiers.append("custom: " + ", ".join(changed))
    return qualifiers


def attack_name(base: str, params: Mapping[str, Any] | None = None) -> str:
    """The published name of the algorithm ``base`` as run with ``params``: ``PGD``, ``APGD-CE``, ``APGD-DLR``."""
    if base in NAMED_BY_LOSS:
        name, default_loss = NAMED_BY_LOSS[base]
        return f"{name}-{str((params or {}).get('loss') or default_loss).upper()}"
    return ATTACK_NAMES.get(base, base)


def attack_column(label: str, base: str, params: Mapping[str, Any] | None = None) -> str:
    """``PGD`` for the registered pgd; ``pgd100 (PGD)`` for a variant of it; ``AutoAttack (custom: n_iter=20)`` for an
    ensemble run with other settings than its published ones (AutoAttack itself calls such a run a custom version)."""
    name = attack_name(base, params)
    qualifiers = attack_qualifiers(base, params)
    if label == base:
        return f"{name} ({'; '.join(qualifiers)})" if qualifiers else name
    return f"{label} ({'; '.join([name, *qualifiers])})"
