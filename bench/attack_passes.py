"""How many passes through its target an attack makes per example: what its cost and its progress are counted in.

A pass is one forward call of the target (with its backward, for a gradient
attack).  The count is the attack's budget read from its resolved settings:
steps (or iterations, or queries) times restarts times C&W's binary-search
steps.  Early stops (C&W's ``abort_early``, restarts skipped once an example
is fooled) make the real count smaller; the cost model's recorded rates
absorb that, the progress line shows the budget as ``~``.
"""

from __future__ import annotations

from typing import Any, Mapping

from attacks import ATTACKS
from bench.component_params import resolved_settings
from bench.jobs import AttackRef, CraftTask

AUTOATTACK_DEFAULTS = {"n_iter": 100, "n_queries": 5000, "n_target_classes": 9}
BUDGET_NAMES = ("steps", "n_iter", "n_queries")
OBLIVIOUS_START = ("pgd", "mim")  # the iterative attacks an adaptive threat first runs against the classifier alone


def settings_passes(base: str, settings: Mapping[str, Any]) -> int:
    """Passes per example of attack ``base`` run with ``settings`` (its resolved parameters)."""
    if base == "autoattack":  # APGD-CE, then APGD-T and FAB-T per target class, then Square
        merged = {k: settings.get(k) if settings.get(k) is not None else v for k, v in AUTOATTACK_DEFAULTS.items()}
        return merged["n_iter"] * (1 + 2 * merged["n_target_classes"]) + merged["n_queries"]
    budget = next((int(settings[name]) for name in BUDGET_NAMES if settings.get(name) is not None), 1)
    return budget * int(settings.get("restarts") or 1) * int(settings.get("binary_search_steps") or 1)


def attack_passes(attack: AttackRef) -> int:
    """Passes per example of the attack ``attack`` names (its registered defaults filled in)."""
    return settings_passes(attack.base, resolved_settings(ATTACKS.create(attack.base, **attack.params), attack.params))


def oblivious_start(task: CraftTask) -> bool:
    """True when the adaptive threat first runs the attack on the classifier alone (its default start)."""
    return (task.threat.model == "adaptive" and bool(task.stack) and task.attack.base in OBLIVIOUS_START
            and str(task.threat.params.get("start", "oblivious")) == "oblivious")


def craft_passes(task: CraftTask) -> int:
    """Passes through the attacked classifier per example of a craft, its oblivious start included."""
    return attack_passes(task.attack) * (2 if oblivious_start(task) else 1)
