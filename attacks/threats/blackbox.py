"""``blackbox``: a score-based attack (square) querying the whole pipeline C o purify.

The attack sees the pipeline's scores only (``QueryOnly``: no gradients).
Success flags are those of one forward pass of the real pipeline (one random
draw for a randomized stack), as the evaluation will see it.
"""

from __future__ import annotations

import torch

from attacks.base import Attack, AttackResult, Target, predict
from attacks.threats.adaptive import DEFAULT_RELU_BETA
from attacks.threats.model import Role, ThreatModel
from attacks.threats.pipeline import DefendedPipeline, GradientMode, QueryOnly
from attacks.threats.registry import THREATS
from defenses.stack import Stack


@THREATS.register("blackbox")
class BlackBox(ThreatModel):
    """Score queries of the defended pipeline, one adversarial set per stack."""

    VERSION = "3"  # the built-in threats' one version (3: eq. 2 on each stage's own input)
    role = Role.QUERY

    def refuse_attack(self, attack: Attack) -> str | None:
        if not attack.score_based:
            return "the blackbox threat allows score-based attacks only (square)"
        return None

    def run(self, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float, *,
            lam: float | None, generator: torch.Generator | None) -> AttackResult:
        if stack is None:
            return attack(QueryOnly(classifier), x, y, eps, generator=generator)
        pipeline = DefendedPipeline(classifier, stack, GradientMode.AUTO, DEFAULT_RELU_BETA)
        result = attack(QueryOnly(pipeline), x, y, eps, generator=generator)
        return AttackResult(result.x_adv, predict(pipeline, result.x_adv) != y) if stack.randomized else result
