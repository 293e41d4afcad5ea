"""A smooth curvature for ReLU, so that gradients of gradients through piecewise-linear networks are not zero.

A defense that runs gradient steps on a ReLU network (AID's Algorithm 2)
depends on its input through the network's gradient, and the derivative of
that gradient, the second derivative of ReLU, is zero almost everywhere: an
attacker differentiating the unrolled purification then sees only the clips,
i.e. BPDA.  ``smooth_relu_curvature(beta)`` replaces that second derivative
(a Dirac delta at 0) with the one of softplus_beta, beta * s(1 - s) with
s = sigmoid(beta * x), and changes nothing else: forward values and first
derivatives stay ReLU's, bit for bit, so every point and every gradient step
the purification takes is the deployed one, and only how the gradient
responds to its input is approximate.  With a single hidden ReLU layer the
resulting second derivative is exactly that of the softplus_beta network.

It intercepts ``torch.relu`` and ``torch.nn.functional.relu`` (and their
in-place forms, computed out of place) through a ``TorchFunctionMode``, so the
networks are used as they are, with no module replaced.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from bench.errors import InvalidInputError

_RELUS = frozenset({torch.relu, torch.relu_, F.relu, F.relu_, torch.Tensor.relu, torch.Tensor.relu_})


class _ReLUWithSmoothCurvature(torch.autograd.Function):
    """ReLU whose backward is exact in value but differentiable with softplus_beta's second derivative."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, beta: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.beta = beta
        return torch.relu(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return _ReLUSlope.apply(grad, x, ctx.beta), None


class _ReLUSlope(torch.autograd.Function):
    """``grad`` times ReLU's 0/1 slope at ``x``; its derivative in ``x`` is grad * beta * s (1 - s), s = sigmoid(beta x).

    One node instead of the four a recorded ``(x > 0) + (s - s.detach())``
    would leave in the graph: the sigmoid is computed only if a second
    backward pass asks for it.
    """

    @staticmethod
    def forward(ctx, grad: torch.Tensor, x: torch.Tensor, beta: float) -> torch.Tensor:  # type: ignore[override]
        slope = (x > 0).to(grad.dtype)
        ctx.save_for_backward(grad, x, slope)
        ctx.beta = beta
        return grad * slope

    @staticmethod
    def backward(ctx, outer: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:  # type: ignore[override]
        grad, x, slope = ctx.saved_tensors
        smooth = torch.sigmoid(ctx.beta * x)
        return outer * slope, torch.ops.aten.sigmoid_backward(outer * grad, smooth) * ctx.beta, None


def relu_with_smooth_curvature(x: torch.Tensor, beta: float) -> torch.Tensor:
    return _ReLUWithSmoothCurvature.apply(x, beta)


def check_beta(beta: float) -> float:
    """beta in (0, inf]; inf is ReLU's own (zero) curvature, the limit of softplus_beta."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
        raise InvalidInputError(f"relu_beta must be a number > 0 (the softplus sharpness, e.g. 10; inf: ReLU's own), got {beta!r}")
    return float(beta)


def relu_curvature(beta: float) -> AbstractContextManager:
    """``smooth_relu_curvature(beta)``, or nothing to change for beta = inf."""
    return nullcontext() if math.isinf(check_beta(beta)) else smooth_relu_curvature(beta)


class smooth_relu_curvature(TorchFunctionMode):  # noqa: N801 - used as a context manager, like torch.no_grad
    """Within this context every ReLU has softplus_beta's second derivative (values and first derivatives unchanged)."""

    def __init__(self, beta: float) -> None:
        super().__init__()
        self.beta = check_beta(beta)
        if math.isinf(self.beta):
            raise InvalidInputError("smooth_relu_curvature needs a finite beta; use relu_curvature for beta = inf")

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func in _RELUS:
            return relu_with_smooth_curvature(args[0], self.beta)
        return func(*args, **(kwargs or {}))
