"""Algorithm 2 unrolled as one differentiable function of its input, for the adaptive threat model.

Every one of the N steps keeps its graph (``create_graph=True``), so the
gradient of C(unrolled(x)) reaches x through the clip operations, through
each step's input, and through each step's gradient direction, which is the
second-order path through D and C.  The eps-ball clip is a ``clamp``:
gradient 1 inside, and where a bound is active the gradient flows to the
bound x +- eps, which depends on x.  The [0, 1] clip takes ``box_gradient``:
``exact`` is clamp's own derivative (zero for a clipped pixel), ``ste`` (the
default) passes the gradient on unchanged.  On images with a black background
the exact derivative masks the gradient: on mnist5k the purification pushes
nearly every background pixel below 0 in its first step, and the exact
unrolled gradient is zero on most pixels, so an attack through it is weak;
the straight-through clip keeps those pixels visible to the attacker.

``sign`` has derivative zero almost everywhere, so the exact gradient of
Algorithm 2 is the product of the clip masks and the second-order path is
invisible to it; a surrogate derivative is what lets the attacker see how the
purification's direction responds to its input.  Both surrogates use
s(g) = tanh(g / (T * mean|g|)), with mean|g| taken per example, so that the
temperature T is free of the gradient's scale (D's logit gradients vary over
orders of magnitude between models), and s -> sign(g) as T -> 0.

- ``ste`` (default for attacks): the forward pass uses the true sign, the
  backward pass the derivative of s.  The attacked point is the deployed
  purification exactly, so the loss the attacker optimises is the one that is
  evaluated; only the direction of descent is approximate.
- ``tanh``: s itself, forward and backward.  A smooth function whose gradient
  is exact (what the finite-difference test checks), at the price of a
  forward pass that differs slightly from the deployed purification.

When D and C are piecewise linear (ReLU, max-pooling), grad logit is locally
constant in x and the second-order term vanishes almost everywhere: the
unrolled gradient is then the product of the clip Jacobians, which with
``box_gradient="ste"`` is the identity, i.e. exactly BPDA's.  Unrolling adds
information over BPDA only for classifiers with curvature (smooth activations),
or when the attacker gives ReLU a smooth second derivative
(``attacks.curvature``, the adaptive threat's ``relu_beta``), which leaves
this function's values and first derivatives as they are.
"""

from __future__ import annotations

import torch

from attacks.norms import Norm, project
from defenses.aid.config import BoxGradient, Surrogate
from defenses.aid.purification import Score

_TINY = 1e-12


def soft_sign(grad: torch.Tensor, temperature: float) -> torch.Tensor:
    """tanh(g / (T * mean|g|)) per example: a smooth, scale-free sign."""
    scale = grad.abs().flatten(1).mean(1).clamp_min(_TINY).view(-1, *([1] * (grad.ndim - 1)))
    return torch.tanh(grad / (temperature * scale))


def direction(grad: torch.Tensor, surrogate: Surrogate, temperature: float) -> torch.Tensor:
    smooth = soft_sign(grad, temperature)
    if surrogate is Surrogate.TANH:
        return smooth
    return grad.sign() + (smooth - smooth.detach())  # value: sign(g); derivative: that of the smooth sign


def clip(x_pur: torch.Tensor, origin: torch.Tensor, eps: float, box_gradient: BoxGradient) -> torch.Tensor:
    """Algorithm 2, lines 5-6: the eps-ball of ``origin``, then [0, 1] (``ste``: identity derivative for the latter)."""
    clipped = project(x_pur, origin, eps, Norm.LINF)  # the values of ``purify``, bit for bit
    if box_gradient is BoxGradient.EXACT:
        return clipped
    inside = torch.min(torch.max(x_pur, origin - eps), origin + eps)
    return clipped.detach() + (inside - inside.detach())  # value: both clips; derivative: the eps-ball clip's


def unrolled_purify(score: Score, x: torch.Tensor, *, eps: float, step: float, steps: int, surrogate: Surrogate,
                    temperature: float, box_gradient: BoxGradient) -> torch.Tensor:
    """x_pur as a differentiable function of ``x`` (gradients through all ``steps``)."""
    with torch.enable_grad():
        origin = x if x.requires_grad else x.detach().requires_grad_(True)
        x_pur = origin
        for _ in range(steps):
            (grad,) = torch.autograd.grad(score(x_pur).sum(), x_pur, create_graph=True)
            x_pur = clip(x_pur - step * direction(grad, surrogate, temperature), origin, eps, box_gradient)
    return x_pur
