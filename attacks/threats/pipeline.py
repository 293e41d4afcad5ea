"""The defended pipeline C o purify as an attack target (the ``adaptive`` and ``blackbox`` threats).

Forward passes always run the real purification.  What flows backward through
a stage depends on the stage's declarations and the gradient mode:

- a ``differentiable`` stage: plain autograd;
- a non-differentiable stage that is ``unrollable``: the gradient of its
  ``unrolled_purify`` (modes ``auto`` and ``unrolled``);
- any other non-differentiable stage: the identity (BPDA, straight-through;
  mode ``bpda`` forces this for every non-differentiable stage);
- a stage declaring ``gradient_impractical`` (its exact gradient, autograd or
  unrolled, is a long inner optimisation to differentiate at every attack
  step): the identity in modes ``auto`` and ``bpda``, as Athalye et al.
  (2018) attacked Defense-GAN's latent search; mode ``unrolled`` still takes
  the exact gradient.  ``approximated_stages`` names them, for labels and evidence.

Both substitutes are BPDA in Athalye et al.'s sense: the forward value is
``purify(x)``, the backward pass is that of a differentiable approximation.
A stage whose unrolling is ``unrolled_exact`` (its values are ``purify``'s,
bit for bit) takes its forward value from the unrolling, so each iterate is
purified once, not twice.
``relu_beta`` builds the unrolled purification with softplus_beta's second
derivative for ReLU (``attacks.curvature``; inf, the default here: ReLU's
own): a purification that follows a ReLU network's gradient depends on its
input through that gradient, whose exact derivative is zero almost
everywhere, which would leave the unrolled gradient equal to BPDA's.
Randomized stacks are attacked through ``Expectation``: the mean of several
forward passes, whose gradient is the average of the per-sample gradients (EOT).
"""

from __future__ import annotations

from functools import partial
from typing import Callable, Sequence

import math

import torch
from torch import nn

from attacks.base import Target
from attacks.curvature import check_beta, relu_curvature
from attacks.targets import as_module
from bench.choice import Choice
from bench.errors import InvalidInputError
from defenses.base import Defense
from defenses.stack import Stack


class GradientMode(Choice):
    AUTO = "auto"  # unrolled where a stage offers it, identity otherwise
    BPDA = "bpda"  # identity through every non-differentiable stage
    UNROLLED = "unrolled"  # every non-differentiable stage must offer unrolled_purify


def straight_through(value: torch.Tensor, surrogate: torch.Tensor) -> torch.Tensor:
    """``value`` in the forward pass, the gradient of ``surrogate`` in the backward pass."""
    return value.detach() + (surrogate - surrogate.detach())


StageRule = Callable[[Defense, torch.Tensor], torch.Tensor]


def autograd_stage(defense: Defense, x: torch.Tensor) -> torch.Tensor:
    return defense.purify(x)


def identity_stage(defense: Defense, x: torch.Tensor) -> torch.Tensor:
    if not torch.is_grad_enabled():
        return defense.purify(x)
    return straight_through(defense.purify(x.detach()), x)


def unrolled_stage(defense: Defense, x: torch.Tensor, relu_beta: float = math.inf) -> torch.Tensor:
    if not torch.is_grad_enabled():
        return defense.purify(x)
    with relu_curvature(relu_beta):
        surrogate = defense.unrolled_purify(x)
    if defense.unrolled_exact:  # its values are the purification's: purifying again would only repeat them
        return surrogate
    return straight_through(defense.purify(x.detach()), surrogate)


def stage_rule(name: str, defense: Defense, mode: GradientMode, relu_beta: float = math.inf) -> StageRule:
    """How gradients cross the stage ``name`` under ``mode``."""
    if defense.gradient_impractical and mode is not GradientMode.UNROLLED:
        return identity_stage
    if defense.differentiable:
        return autograd_stage
    if mode is GradientMode.BPDA:
        return identity_stage
    if defense.unrollable:
        return partial(unrolled_stage, relu_beta=relu_beta)
    if mode is GradientMode.UNROLLED:
        raise InvalidInputError(f"stage {name!r} is neither differentiable nor unrollable; use gradient mode 'auto' or 'bpda'")
    return identity_stage


def approximated_stages(stages: Sequence[tuple[str, Defense]], mode: GradientMode | str) -> list[str]:
    """The stages whose declared-impractical exact gradient ``mode`` replaces by BPDA's identity."""
    mode = GradientMode.coerce(mode)
    return [name for name, defense in stages if defense.gradient_impractical and mode is not GradientMode.UNROLLED]


class DefendedPipeline(nn.Module):
    """``classifier(stack.purify(x))`` with the gradient rules above; taps are the classifier's."""

    def __init__(self, classifier: Target, stack: Stack, gradient: GradientMode | str = GradientMode.AUTO,
                 relu_beta: float = math.inf) -> None:
        super().__init__()
        mode = GradientMode.coerce(gradient)
        relu_beta = check_beta(relu_beta)
        self.classifier = as_module(classifier)
        self.stages = [(defense, stage_rule(name, defense, mode, relu_beta)) for name, defense in stack.stages]
        self.tap_points = {tap: f"classifier.{path}" for tap, path in getattr(self.classifier, "tap_points", {}).items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for defense, rule in self.stages:
            x = rule(defense, x)
        return self.classifier(x)


def check_eot_samples(samples: int) -> int:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InvalidInputError(f"eot_samples must be an integer >= 1, got {samples!r}")
    return samples


class Expectation(nn.Module):
    """The mean logits of ``samples`` forward passes of a randomized target (EOT)."""

    def __init__(self, target: Target, samples: int) -> None:
        super().__init__()
        self.target, self.samples = as_module(target), check_eot_samples(samples)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.target(x)
        for _ in range(self.samples - 1):
            total = total + self.target(x)
        return total / self.samples


class QueryOnly(nn.Module):
    """Outputs without a gradient path: what a score-based (black-box) attacker may see."""

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = as_module(target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.target(x.detach())
