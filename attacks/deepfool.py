"""``deepfool``: DeepFool (Moosavi-Dezfooli et al. 2016) through Foolbox, L-inf as in the AID-Purifier paper.

Foolbox's defaults (50 steps, 10 candidate classes, overshoot 0.02, logit
loss) unless overridden; the minimal perturbation found is clipped to the
eps-ball.
"""

from __future__ import annotations

import torch

from attacks.base import Attack, Target
from attacks.foolbox_bridge import run_foolbox
from attacks.norms import Norm
from attacks.registry import ATTACKS
from bench.errors import InvalidInputError


class DeepFool(Attack):
    """DeepFool (Foolbox ``LinfDeepFoolAttack`` / ``L2DeepFoolAttack``)."""

    def __init__(self, steps: int = 50, candidates: int | None = 10, overshoot: float = 0.02, loss: str = "logits",
                 norm: Norm | str | None = None) -> None:
        super().__init__(norm=norm)
        if loss not in ("logits", "crossentropy"):
            raise InvalidInputError(f"deepfool loss must be 'logits' or 'crossentropy', got {loss!r}")
        self.options = dict(steps=steps, candidates=candidates, overshoot=overshoot, loss=loss)

    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        import foolbox as fb

        algorithm = fb.attacks.LinfDeepFoolAttack if self.norm is Norm.LINF else fb.attacks.L2DeepFoolAttack
        return run_foolbox(algorithm(**self.options), target, x, y, eps)


@ATTACKS.register("deepfool")
def deepfool(**params) -> DeepFool:
    return DeepFool(**params)
