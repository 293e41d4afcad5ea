"""Threat-model norms: L-inf and L2 balls, their projections and steepest-ascent steps."""

from __future__ import annotations


import torch

from bench.choice import Choice


class Norm(Choice):
    LINF = "linf"
    L2 = "l2"


def _flat_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.ndim - 1)))


def perturbation_norms(x_adv: torch.Tensor, x: torch.Tensor, norm: Norm) -> torch.Tensor:
    """Each example's ``||x_adv - x||`` in ``norm`` (N,): what an attack actually spent of its eps."""
    delta = (x_adv - x).flatten(1)
    return delta.abs().amax(dim=1) if norm is Norm.LINF else delta.norm(dim=1)


def project(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: Norm) -> torch.Tensor:
    """The nearest point to ``x_adv`` in the ``eps``-ball around ``x``, clipped to [0, 1].

    A point already inside is returned bit for bit, so projecting twice (an
    attack's own step, then ``Attack.__call__``) changes nothing.
    """
    if norm is Norm.LINF:
        return torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
    delta = x_adv - x
    scale = (eps / _flat_norm(delta)).clamp(max=1.0)
    return torch.where(scale < 1.0, x + delta * scale, x_adv).clamp_(0.0, 1.0)


def ascent_direction(grad: torch.Tensor, norm: Norm) -> torch.Tensor:
    """The unit steepest-ascent direction for ``norm`` (sign for L-inf, normalised for L2)."""
    if norm is Norm.LINF:
        return grad.sign()
    return grad / _flat_norm(grad)


def random_start(x: torch.Tensor, eps: float, norm: Norm, generator: torch.Generator | None) -> torch.Tensor:
    """A uniform sample of the ``eps``-ball around ``x`` (clipped to [0, 1])."""
    if norm is Norm.LINF:
        noise = (torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1) * eps
    else:
        direction = torch.randn(x.shape, generator=generator, device=x.device)
        direction = direction / _flat_norm(direction)
        d = x[0].numel()
        radius = torch.rand(len(x), generator=generator, device=x.device).pow(1.0 / d).view(-1, *([1] * (x.ndim - 1)))
        noise = direction * radius * eps
    return (x + noise).clamp(0.0, 1.0)


def within_ball(x_adv: torch.Tensor, x: torch.Tensor, eps: float, norm: Norm, tol: float = 1e-5) -> bool:
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(dim=1) if norm is Norm.LINF else delta.norm(dim=1)
    return bool((size <= eps + tol).all() and x_adv.min() >= 0 and x_adv.max() <= 1)
