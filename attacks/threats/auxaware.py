"""``auxaware``: an iterative attack maximising eq. 2 of the AID-Purifier paper, ``(1 - lam) L_C - lam L_D``.

``L_D`` is the auxiliary loss of the stages that expose one (AID's
discriminator toward "clean"), each on that stage's own input
(``attacks.threats.aux_loss``), so the adversarial example must fool C while
looking clean to them; the ``lam`` axis sweeps the weight (Figure 4).  Success
flags are those of C.
"""

from __future__ import annotations

from typing import Sequence

import torch

from attacks.base import Attack, AttackResult, Target
from attacks.iterative import IterativeAttack
from attacks.threats.aux_loss import AuxAwareLoss, exposes_aux_loss
from attacks.threats.model import Axis, Role, ThreatModel
from attacks.threats.registry import THREATS
from defenses.base import Defense
from defenses.stack import Stack


@THREATS.register("auxaware")
class AuxAware(ThreatModel):
    """The attack on C with eq. 2's objective, one adversarial set per stack and lambda."""

    VERSION = "3"  # the built-in threats' one version (3: eq. 2 on each stage's own input)
    axes = frozenset({Axis.LAM})
    role = Role.ADAPTIVE

    def refuse_attack(self, attack: Attack) -> str | None:
        if not isinstance(attack, IterativeAttack):
            return "the auxaware threat runs on the iterative engine (pgd, mim)"
        return None

    def refuse_stack(self, stages: Sequence[Defense]) -> str | None:
        if not any(exposes_aux_loss(d) for d in stages):
            return "the auxaware threat needs a stage with an auxiliary loss (e.g. aid)"
        return None

    def run(self, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float, *,
            lam: float | None, generator: torch.Generator | None) -> AttackResult:
        iterative: IterativeAttack = attack  # type: ignore[assignment]  (refuse_attack, checked by craft)
        return iterative.with_loss(AuxAwareLoss(stack, lam))(classifier, x, y, eps, generator=generator)
