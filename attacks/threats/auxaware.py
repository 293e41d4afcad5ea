"""The auxiliary-aware objective (Shi et al. 2021; the AID-Purifier paper's eq. 2).

Maximise ``(1 - lam) * CE(C(x), y) - lam * sum_d L_d(x)`` where ``L_d`` is
the per-example ``aux_loss`` of each stage that exposes one (for AID, the
discriminator's loss toward "clean"): the adversarial example must fool C
while looking clean to the auxiliary networks.  ``lam = 0`` is plain PGD on
C; ``lam = 1`` ignores C.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from attacks.base import Target
from bench.errors import InvalidInputError
from defenses.base import Defense
from defenses.stack import Stack


def exposes_aux_loss(defense: Defense) -> bool:
    """True when the defense's class overrides ``Defense.aux_loss``."""
    return type(defense).aux_loss is not Defense.aux_loss


def check_lam(lam: float | None) -> float:
    if lam is None or isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or not 0 <= lam <= 1:
        raise InvalidInputError(f"the auxaware threat needs lam in [0, 1] (e.g. --lam 0,0.5,1), got {lam!r}")
    return float(lam)


class AuxAwareLoss:
    """The per-example objective of eq. 2 for a stack and a lambda."""

    def __init__(self, stack: Stack | None, lam: float | None) -> None:
        self.lam = check_lam(lam)
        self.stages = [(name, d) for name, d in (stack.stages if stack is not None else []) if exposes_aux_loss(d)]
        if not self.stages:
            stack_name = stack.name if stack is not None else "(no stack)"
            raise InvalidInputError(
                f"the auxaware threat needs a defense exposing aux_loss (e.g. aid); no stage of {stack_name} does"
            )

    def __call__(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = (1 - self.lam) * F.cross_entropy(target(x), y, reduction="none")
        for name, defense in self.stages:
            aux = defense.aux_loss(x)
            if aux is None or aux.shape != (len(x),):
                raise RuntimeError(f"stage {name!r}: aux_loss must return a per-example tensor of shape ({len(x)},), got "
                                   f"{None if aux is None else tuple(aux.shape)}")
            total = total - self.lam * aux
        return total
