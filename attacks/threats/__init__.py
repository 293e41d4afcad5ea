"""Threat models: what an attack is allowed to see and what it is run against.

Each threat model is a ``ThreatModel`` in the registry ``THREATS`` (entry-point
group ``purebench.threats`` for plugins); spec validation, the planner, the
runner and the report ask it what it accepts, which axes it adds, whether its
set depends on the stack and how it crafts.  The built-in ones:

- ``oblivious``: attack C; evaluate purify-then-C (the paper's tables);
- ``transfer``: craft on a surrogate classifier (the ``sources`` axis);
- ``auxaware``: an iterative attack maximising eq. 2, ``(1 - lam) L_C - lam L_D`` (the ``lam`` axis);
- ``adaptive``: attack C o purify with BPDA, EOT and unrolled gradients;
- ``blackbox``: score queries of the whole pipeline (square).

Under ``oblivious`` and ``transfer`` the adversarial set does not depend on the
defense stack (the runner reuses it for every stack).  This package sits above
``defenses`` (it attacks stacks), so ``attacks/__init__`` does not import it.
"""

from __future__ import annotations

import torch

from attacks.base import Attack, AttackResult, Target
from attacks.threats import adaptive, auxaware, blackbox, oblivious, transfer  # noqa: F401  (registration)
from attacks.threats.model import Axis, Role, ThreatModel
from attacks.threats.oblivious import NAME as DEFAULT_THREAT
from attacks.threats.registry import THREATS, role_of, threat_model
from defenses.stack import Stack

__all__ = ["DEFAULT_THREAT", "THREATS", "Axis", "Role", "ThreatModel", "craft", "role_of", "threat_model", "threat_names"]


def threat_names() -> list[str]:
    """The registered threat-model names, for ``run_bench.py list threats``."""
    return THREATS.names()


def craft(threat: str, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float,
          *, lam: float | None = None, generator: torch.Generator | None = None, **params: object) -> AttackResult:
    """Adversarial examples for ``x`` under the threat registered as ``threat`` with ``params`` (its constructor's)."""
    return threat_model(threat, **params).craft(attack, classifier, stack, x, y, eps, lam=lam, generator=generator)
