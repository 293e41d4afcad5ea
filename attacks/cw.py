"""``cw``: Carlini & Wagner's L2 attack through Foolbox, as the AID-Purifier paper ran it.

Foolbox's defaults (9 binary-search steps of 10,000 Adam steps, abort early)
unless overridden.  C&W minimises the perturbation; the result is clipped to
the eps-ball, as Foolbox does when it is given ``epsilons``.
"""

from __future__ import annotations

import torch

from attacks.base import Attack, Target
from attacks.foolbox_bridge import run_foolbox
from attacks.norms import Norm
from attacks.registry import ATTACKS


class CarliniWagnerL2(Attack):
    """Carlini & Wagner L2 (Foolbox ``L2CarliniWagnerAttack``)."""

    norms = (Norm.L2,)

    def __init__(self, binary_search_steps: int = 9, steps: int = 10000, stepsize: float = 1e-2, confidence: float = 0.0,
                 initial_const: float = 1e-3, abort_early: bool = True, norm: Norm | str | None = None) -> None:
        super().__init__(norm=norm)
        self.options = dict(binary_search_steps=binary_search_steps, steps=steps, stepsize=stepsize, confidence=confidence,
                            initial_const=initial_const, abort_early=abort_early)

    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        import foolbox as fb

        return run_foolbox(fb.attacks.L2CarliniWagnerAttack(**self.options), target, x, y, eps)


@ATTACKS.register("cw")
def cw(**params) -> CarliniWagnerL2:
    return CarliniWagnerL2(**params)
