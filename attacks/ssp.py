"""``ssp``: the self-supervised perturbation of NRP (Naseer et al. 2020).

Label-free: from a random point of the eps-ball, it maximises the distortion
of a feature extractor's representation, the squared L2 distance between the
features of ``x_adv`` and of the clean ``x``, by signed-gradient steps (the
NRP reference: 100 steps of 0.01).  The feature extractor is a named tap of
the target classifier (``layer``; ``None`` uses its logits), so no labels and
no extra network are needed; the labels given to ``__call__`` serve only the
success flags.
"""

from __future__ import annotations

import torch
from torch import nn

from attacks.base import Attack, Target
from attacks.iterative import iterate
from attacks.norms import Norm, random_start
from attacks.registry import ATTACKS
from bench.errors import InvalidInputError
from bench.models.taps import forward_with_taps


def features(target: Target, x: torch.Tensor, layer: str | None) -> torch.Tensor:
    """The ``layer`` tap of ``target`` on ``x`` (its output when ``layer`` is None)."""
    if layer is None:
        return target(x)
    if not isinstance(target, nn.Module):
        raise InvalidInputError(f"ssp reads the tap {layer!r}, so the target must be an nn.Module; pass layer=None to use its outputs")
    return forward_with_taps(target, x, [layer])[1][layer]


class FeatureDistortion:
    """Per-example squared L2 distance from the clean features (the loss SSP maximises; labels unused)."""

    def __init__(self, layer: str | None, clean: torch.Tensor) -> None:
        self.layer, self.clean = layer, clean

    def __call__(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (features(target, x, self.layer) - self.clean).flatten(1).pow(2).sum(1)


class SSP(Attack):
    """Feature-distortion attack that needs no labels."""

    def __init__(self, layer: str | None = "layer2", steps: int = 100, step_size: float = 0.01, norm: Norm | str | None = None) -> None:
        super().__init__(norm=norm)
        if steps < 1 or step_size <= 0:
            raise InvalidInputError(f"ssp needs steps >= 1 and step_size > 0, got steps={steps}, step_size={step_size}")
        self.layer, self.steps, self.step_size = layer, steps, step_size

    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        with torch.no_grad():
            clean = features(target, x, self.layer)
        start = random_start(x, eps, self.norm, generator)
        return iterate(target, x, y, eps=eps, step_size=self.step_size, steps=self.steps, norm=self.norm,
                       loss=FeatureDistortion(self.layer, clean), start=start)


@ATTACKS.register("ssp")
def ssp(**params) -> SSP:
    return SSP(**params)
