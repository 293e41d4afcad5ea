"""``transfer``: craft on a surrogate classifier, evaluate on the defended target.

The ``sources`` axis names the surrogates (``bench.plan_sources``: same arch
other seed, S=T; another arch, S!=T); the planner trains each and hands it to
``craft`` as the attacked classifier, so the set depends on the surrogate only
and serves every stack of every target sharing it.  Success flags are the
surrogate's.
"""

from __future__ import annotations

import torch

from attacks.base import Attack, AttackResult, Target
from attacks.threats.model import Axis, Role, ThreatModel
from attacks.threats.registry import THREATS
from defenses.stack import Stack


@THREATS.register("transfer")
class Transfer(ThreatModel):
    """Attack a surrogate; evaluate the pipeline on what fooled it."""

    VERSION = "3"  # the built-in threats' one version (3: eq. 2 on each stage's own input)
    depends_on_stack = False
    axes = frozenset({Axis.SOURCES})
    role = Role.TRANSFER

    def run(self, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float, *,
            lam: float | None, generator: torch.Generator | None) -> AttackResult:
        return attack(classifier, x, y, eps, generator=generator)
