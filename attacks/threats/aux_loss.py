"""The auxiliary-aware objective (Shi et al. 2021; the AID-Purifier paper's eq. 2).

Maximise ``(1 - lam) * CE(C(x), y) - lam * sum_d L_d(x_d)`` where ``L_d`` is
the per-example ``aux_loss`` of each stage that exposes one (for AID, the
discriminator's loss toward "clean") and ``x_d`` that stage's own input: ``x``
passed through the stages before it, as the stack runs them.  In
``pixeldefend+aid`` AID's discriminator judges PixelDefend's output, so that
is what the attack must make look clean.  Gradients cross the stages before
``d`` by autograd where they are differentiable and straight through (BPDA)
where not.  The adversarial example must fool C while looking clean to the
auxiliary networks.  ``lam = 0`` is plain PGD on C (the stages are not run);
``lam = 1`` ignores C.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from attacks.base import Target
from attacks.threats.pipeline import GradientMode, StageRule, stage_rule
from bench.errors import InvalidInputError
from defenses.base import Defense
from defenses.stack import Stack


def exposes_aux_loss(defense: Defense) -> bool:
    """True when the defense's class overrides ``Defense.aux_loss``."""
    return type(defense).aux_loss is not Defense.aux_loss


def check_lam(lam: float | None, name: str = "lam") -> float:
    """eq. 2's weight of ``-L_D``: a number in [0, 1] (the auxaware threat's ``lam``, the adaptive threat's ``aux_lam``)."""
    if lam is None or isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or not 0 <= lam <= 1:
        raise InvalidInputError(f"{name} must be a number in [0, 1] (the weight of -L_D in eq. 2, e.g. --lam 0,0.5,1), "
                                f"got {lam!r}")
    return float(lam)


class AuxAwareLoss:
    """The per-example objective of eq. 2 for a stack and a lambda."""

    def __init__(self, stack: Stack | None, lam: float | None) -> None:
        self.lam = check_lam(lam)
        stages = stack.stages if stack is not None else []
        if not any(exposes_aux_loss(d) for _, d in stages):
            stack_name = stack.name if stack is not None else "(no stack)"
            raise InvalidInputError(
                f"the auxaware threat needs a defense exposing aux_loss (e.g. aid); no stage of {stack_name} does"
            )
        last = max(i for i, (_, d) in enumerate(stages) if exposes_aux_loss(d))
        self.stages: list[tuple[str, Defense, StageRule]] = [
            (name, d, stage_rule(name, d, GradientMode.BPDA)) for name, d in stages[: last + 1]]

    def __call__(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = (1 - self.lam) * F.cross_entropy(target(x), y, reduction="none")
        if self.lam == 0:
            return total
        stage_input = x
        for i, (name, defense, rule) in enumerate(self.stages):
            if exposes_aux_loss(defense):
                total = total - self.lam * _checked(name, defense.aux_loss(stage_input), len(x))
            if i < len(self.stages) - 1:
                stage_input = rule(defense, stage_input)
        return total


def _checked(name: str, aux: torch.Tensor | None, n: int) -> torch.Tensor:
    if aux is None or aux.shape != (n,):
        raise RuntimeError(f"stage {name!r}: aux_loss must return a per-example tensor of shape ({n},), got "
                           f"{None if aux is None else tuple(aux.shape)}")
    return aux
