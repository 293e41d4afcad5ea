"""PGD (Madry et al. 2018) and MIM (Dong et al. 2018) on one iterative engine.

The engine maximises a pluggable per-example loss by steepest ascent inside
the eps-ball.  It asks autograd for the gradient with respect to the input
only, so each step costs one forward and one input-backward pass of the target
and little else.  With restarts, an example keeps the first adversarial point
found (or, failing that, the last restart's).
"""

from __future__ import annotations

import copy

import torch

from attacks.base import Attack, Target
from attacks.losses import LOSSES, AttackLoss
from attacks.norms import Norm, ascent_direction, project, random_start
from attacks.registry import ATTACKS
from bench.errors import InvalidInputError


def iterate(
    target: Target,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    steps: int,
    norm: Norm,
    loss: AttackLoss,
    start: torch.Tensor,
    momentum: float | None = None,
) -> torch.Tensor:
    """``steps`` ascent steps of ``loss`` from ``start`` (momentum: MIM's accumulated L1-normalised gradient).

    Under L-inf the iterate lives in one buffer, updated in place and clipped
    to the eps-box intersected with [0, 1] (computed once): the same values
    as ``project`` gives, with no allocation per step.
    """
    x_adv = start.detach().clone()
    velocity = torch.zeros_like(x) if momentum is not None else None
    box = ((x - eps).clamp_(min=0.0), (x + eps).clamp_(max=1.0)) if norm is Norm.LINF else None
    for _ in range(steps):
        x_adv.requires_grad_(True)
        grad = torch.autograd.grad(loss(target, x_adv, y).sum(), x_adv)[0]
        x_adv.requires_grad_(False)
        if velocity is not None:
            velocity = momentum * velocity + grad / grad.abs().flatten(1).sum(1).clamp_min(1e-12).view(-1, 1, 1, 1)
            grad = velocity
        if box is not None:
            x_adv.add_(ascent_direction(grad, norm), alpha=step_size).clamp_(*box)
        else:
            x_adv = project(x_adv + step_size * ascent_direction(grad, norm), x, eps, norm)
    return x_adv


class IterativeAttack(Attack):
    """Shared parameters and restart logic of PGD and MIM."""

    momentum: float | None = None

    def __init__(self, steps: int = 40, step_size: float | None = None, rel_step: float = 2.5, restarts: int = 1,
                 random_start: bool = True, loss: str = "ce", norm: Norm | str | None = None) -> None:
        super().__init__(norm=norm)
        if steps < 1 or restarts < 1:
            raise InvalidInputError(f"steps and restarts must be >= 1, got steps={steps}, restarts={restarts}")
        if loss not in LOSSES:
            raise InvalidInputError(f"unknown attack loss {loss!r}; use one of: {', '.join(LOSSES)}")
        self.steps, self.step_size, self.rel_step = steps, step_size, rel_step
        self.restarts, self.random_start, self.loss = restarts, random_start, LOSSES[loss]

    def with_loss(self, loss: AttackLoss) -> "IterativeAttack":
        """A copy maximising ``loss`` instead (threat models plug their objectives in here)."""
        clone = copy.copy(self)
        clone.loss = loss
        return clone

    def step_for(self, eps: float) -> float:
        """The given step size, or Madry's rule ``rel_step * eps / steps``."""
        return self.step_size if self.step_size is not None else self.rel_step * eps / self.steps

    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        best = x.clone()
        pending = torch.ones(len(x), dtype=torch.bool, device=x.device)
        for restart in range(self.restarts):
            idx = pending.nonzero().squeeze(1)
            xs, ys = x[idx], y[idx]
            start = random_start(xs, eps, self.norm, generator) if self.random_start else xs
            x_adv = iterate(target, xs, ys, eps=eps, step_size=self.step_for(eps), steps=self.steps, norm=self.norm,
                            loss=self.loss, start=start, momentum=self.momentum)
            best[idx] = x_adv
            if restart == self.restarts - 1:
                break
            with torch.no_grad():
                fooled = target(x_adv).argmax(1) != ys
            pending[idx[fooled]] = False
            if not pending.any():
                break
        return best


class PGD(IterativeAttack):
    """Projected gradient descent with a uniform random start."""


class MIM(IterativeAttack):
    """Momentum iterative method; no random start by default, as in Dong et al."""

    def __init__(self, decay: float = 1.0, random_start: bool = False, **kwargs) -> None:
        super().__init__(random_start=random_start, **kwargs)
        self.momentum = decay


@ATTACKS.register("pgd")
def pgd(**params) -> PGD:
    return PGD(**params)


@ATTACKS.register("mim")
def mim(**params) -> MIM:
    return MIM(**params)
