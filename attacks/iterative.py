"""PGD (Madry et al. 2018) and MIM (Dong et al. 2018) on one iterative engine.

The engine maximises a pluggable per-example loss by steepest ascent inside
the eps-ball.  It asks autograd for the gradient with respect to the input
only, so each step costs one forward and one input-backward pass of the target
and little else.  With restarts, an example keeps the first adversarial point
found (or, failing that, the last restart's).

Two options serve attacks on a defended pipeline, where the gradient is a
surrogate (BPDA, unrolling) and the loss need not rise along the iterates:

- ``keep_best``: each example returns the iterate with the highest margin
  (best other logit minus the true one) of the target's own outputs, read from
  the forward pass each step already makes, so it costs one extra forward pass
  in all; as margin > 0 exactly when the target errs, an example the target
  misclassified at any iterate is returned misclassified (AutoAttack's rule).
- a given ``start`` for the first restart, e.g. an attack crafted against the
  classifier alone, so the iterates begin where that attack ended.

``with_trace`` attaches an ``attacks.trace.AttackTrace`` that records each
step's per-example loss, margin and gradient availability (the first
restart's), for the audit's indicators of attack failure.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from attacks.base import Attack, Target
from attacks.losses import LOSSES, AttackLoss, margins
from attacks.norms import Norm, ascent_direction, project, random_start
from attacks.registry import ATTACKS
from attacks.trace import AttackTrace
from bench.choice import Choice
from bench.errors import InvalidInputError


class Accumulate(Choice):
    """What MIM adds to its velocity each step."""

    L1 = "l1"  # the gradient over its L1 norm (Dong et al. 2018)
    SIGN = "sign"  # the gradient's sign (Foolbox 3.3.4's LinfMomentumIterativeFastGradientMethod)


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
    accumulate: Accumulate = Accumulate.L1,
    keep_best: bool = False,
    trace: AttackTrace | None = None,
) -> torch.Tensor:
    """``steps`` ascent steps of ``loss`` from ``start`` (momentum: MIM's velocity, fed as ``accumulate`` says).

    Under L-inf the iterate lives in one buffer, updated in place and clipped
    to the eps-box intersected with [0, 1] (computed once): the same values
    as ``project`` gives, with no allocation per step.  ``keep_best``: return
    each example's highest-margin iterate (``start`` and the last included).
    ``trace``: record each step's per-example loss, margin and gradient availability.
    """
    x_adv = start.detach().clone()
    velocity = torch.zeros_like(x) if momentum is not None else None
    box = ((x - eps).clamp_(min=0.0), (x + eps).clamp_(max=1.0)) if norm is Norm.LINF else None
    best = BestIterate(x_adv) if keep_best else None
    recorded = RecordedLogits(target) if keep_best or trace is not None else target
    if trace is not None:
        trace.begin()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        if recorded is not target:
            recorded.logits = None
        losses = loss(recorded, x_adv, y)
        grad = torch.autograd.grad(losses.sum(), x_adv)[0]
        x_adv.requires_grad_(False)
        if trace is not None:
            trace.record(losses, recorded.logits, y, grad)
        if best is not None:
            best.offer(x_adv, recorded.logits, y)
        if velocity is not None:
            velocity = momentum * velocity + _accumulated(grad, accumulate)
            grad = velocity
        if box is not None:
            x_adv.add_(ascent_direction(grad, norm), alpha=step_size).clamp_(*box)
        else:
            x_adv = project(x_adv + step_size * ascent_direction(grad, norm), x, eps, norm)
    if best is None:
        return x_adv
    with torch.no_grad():
        best.offer(x_adv, target(x_adv), y)
    return best.x


def _accumulated(grad: torch.Tensor, accumulate: Accumulate) -> torch.Tensor:
    if accumulate is Accumulate.SIGN:
        return grad.sign()
    return grad / grad.abs().flatten(1).sum(1).clamp_min(1e-12).view(-1, 1, 1, 1)


class RecordedLogits(nn.Module):
    """``target`` that remembers its last outputs, so the engine can judge an iterate from the loss's own forward pass."""

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target, self.logits = target, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.target(x)
        self.logits = out.detach()
        return out


class BestIterate:
    """Per example, the highest-margin candidate offered so far (ties keep the earlier one)."""

    def __init__(self, x: torch.Tensor) -> None:
        self.x = x.clone()
        self.margin = torch.full((len(x),), float("-inf"), device=x.device)

    def offer(self, x: torch.Tensor, logits: torch.Tensor | None, y: torch.Tensor) -> None:
        if logits is None:
            raise RuntimeError("keep_best needs a loss that evaluates the target on the iterate")
        margin = margins(logits, y).to(self.margin.dtype)
        better = margin > self.margin
        self.x[better] = x[better].detach()
        self.margin = torch.where(better, margin, self.margin)


class IterativeAttack(Attack):
    """Shared parameters and restart logic of PGD and MIM."""

    momentum: float | None = None
    accumulate: Accumulate = Accumulate.L1
    keep_best: bool = False
    start: torch.Tensor | None = None
    trace: AttackTrace | None = None

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

    def with_selection(self, *, keep_best: bool, start: torch.Tensor | None = None) -> "IterativeAttack":
        """A copy returning best iterates (``keep_best``) and beginning its first restart at ``start`` (the inputs' shape)."""
        clone = copy.copy(self)
        clone.keep_best, clone.start = keep_best, start
        return clone

    def with_trace(self, trace: AttackTrace | None) -> "IterativeAttack":
        """A copy recording its first restart's steps into ``trace``."""
        clone = copy.copy(self)
        clone.trace = trace
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
            x_adv = iterate(target, xs, ys, eps=eps, step_size=self.step_for(eps), steps=self.steps, norm=self.norm,
                            loss=self.loss, start=self._start(restart, x, idx, eps, generator), momentum=self.momentum,
                            accumulate=self.accumulate, keep_best=self.keep_best,
                            trace=self.trace if restart == 0 else None)
            best[idx] = x_adv
            if restart == self.restarts - 1:
                break
            with torch.no_grad():
                fooled = target(x_adv).argmax(1) != ys
            pending[idx[fooled]] = False
            if not pending.any():
                break
        return best

    def _start(self, restart: int, x: torch.Tensor, idx: torch.Tensor, eps: float,
               generator: torch.Generator | None) -> torch.Tensor:
        """The first iterate for the examples ``idx`` of ``x``."""
        xs = x[idx]
        if restart == 0 and self.start is not None:
            if self.start.shape != x.shape:
                raise InvalidInputError(f"start has shape {tuple(self.start.shape)}, the inputs {tuple(x.shape)}")
            return project(self.start[idx].to(xs), xs, eps, self.norm)
        return random_start(xs, eps, self.norm, generator) if self.random_start else xs


class PGD(IterativeAttack):
    """Projected gradient descent with a uniform random start."""


class MIM(IterativeAttack):
    """Momentum iterative method; no random start by default, as in Dong et al. and Foolbox.

    ``accumulate`` picks what the velocity sums: L1-normalised gradients (Dong
    et al.) or their signs (Foolbox 3.3.4's L-inf MI-FGSM, which the
    AID-Purifier paper ran); the step follows the velocity's sign either way.
    """

    def __init__(self, decay: float = 1.0, random_start: bool = False, accumulate: Accumulate | str = Accumulate.L1,
                 **kwargs) -> None:
        super().__init__(random_start=random_start, **kwargs)
        self.momentum, self.accumulate = decay, Accumulate.coerce(accumulate)


@ATTACKS.register("pgd")
def pgd(**params) -> PGD:
    return PGD(**params)


@ATTACKS.register("mim")
def mim(**params) -> MIM:
    return MIM(**params)
