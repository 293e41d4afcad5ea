"""Check (d): the binarization test (Zimmermann et al. 2022) for the adaptive attack.

For each example x a test problem whose answer is known: the classifier's
readout (its last linear layer) is replaced by a binary one, fitted on the
features of the defended pipeline so that ``inner`` random points of the
eps-ball (and x itself) fall in class 0 and one random point on its
boundary (uniform in the L-inf box, scaled so its largest coordinate is
eps) in class 1.  An adversarial example
therefore exists within eps; the same adaptive attack, run against the
binarized pipeline, must find one.  Examples whose fitted readout misclassifies
one of its own points are infeasible and left out.  The test fails when the
attack misses too many feasible problems: it is then too weak for this
defense, whatever accuracy it reports.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from bench.auditing.verdicts import CheckResult, Verdict, graded, skipped
from defenses.stack import Stack

#: Share of feasible test problems the attack may miss: any miss warns (every problem has a solution within eps);
#: above 10% it fails, the attack too weak for the defense (ours, a priori: Zimmermann et al. read the share, no cut).
MISS_FAIL, MISS_WARN = 0.10, 0.0
INNER_SCALE = 0.95  # inner points lie within 0.95 eps (Zimmermann et al.'s eta)
FIT_STEPS = 300  # Adam steps of the per-example logistic readout (ours): unfitted ones are left out as infeasible
BOUNDARY_WEIGHT = 1.0  # the boundary point's loss weight relative to all inner points together (ours)

#: Runs the adaptive attack on (binarized classifier, x, y = 0s, eps) and returns the attack's x_adv.
AttackFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def last_linear(model: nn.Module) -> nn.Linear | None:
    """The classifier's readout: its last ``nn.Linear`` module."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


@contextmanager
def _features(readout: nn.Linear) -> Iterator[list[torch.Tensor]]:
    """Collects the readout's inputs of every forward pass made inside."""
    seen: list[torch.Tensor] = []
    handle = readout.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().flatten(1)))
    try:
        yield seen
    finally:
        handle.remove()


class BinaryReadout(nn.Module):
    """``classifier`` with its readout replaced by one linear binary readout per example (row i of the batch: readout i)."""

    def __init__(self, classifier: nn.Module, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.model = copy.deepcopy(classifier)
        self.weight, self.bias = weight, bias
        readout = last_linear(self.model)
        readout.register_forward_hook(self._binary)

    def _binary(self, _module: nn.Module, args: tuple[torch.Tensor, ...], _out: torch.Tensor) -> torch.Tensor:
        score = (args[0].flatten(1) * self.weight[: len(args[0])]).sum(1) + self.bias[: len(args[0])]
        return torch.stack([-score / 2, score / 2], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _fit(inner: torch.Tensor, boundary: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example logistic readouts: inner (N, M, D) in class 0, boundary (N, D) in class 1."""
    mean = inner.mean(1, keepdim=True)
    scale = inner.std(1, keepdim=True).mean(2, keepdim=True).clamp_min(1e-6)
    zi, zb = (inner - mean) / scale, (boundary[:, None] - mean) / scale
    w = torch.zeros(inner.shape[0], inner.shape[2], dtype=inner.dtype, requires_grad=True)
    b = torch.zeros(inner.shape[0], dtype=inner.dtype, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.1)
    for _ in range(FIT_STEPS):
        opt.zero_grad()
        si = (zi * w[:, None]).sum(2) + b[:, None]
        sb = (zb[:, 0] * w).sum(1) + b
        loss = F.softplus(si).mean(1) + BOUNDARY_WEIGHT * F.softplus(-sb)
        loss.sum().backward()
        opt.step()
    w, b = w.detach(), b.detach()
    # back to the raw features: w . (f - mean) / scale + b
    weight = w / scale[:, 0]
    bias = b - (weight * mean[:, 0]).sum(1)
    return weight, bias


def _features_of(classifier: nn.Module, readout: nn.Linear, stack: Stack, points: torch.Tensor,
                 batch_size: int) -> torch.Tensor:
    """The readout's inputs on ``stack.purify(points)``: the last forward pass of each batch is the classifier's own."""
    feats = []
    with _features(readout) as seen, torch.no_grad():
        for i in range(0, len(points), batch_size):
            seen.clear()
            classifier(stack.purify(points[i : i + batch_size]))
            feats.append(seen[-1])
    return torch.cat(feats)


def binarization_test(classifier: nn.Module, stack: Stack, x: torch.Tensor, eps: float, inner_points: int,
                      attack: AttackFn, generator: torch.Generator, batch_size: int = 500) -> CheckResult:
    """The test on the examples ``x`` of the pipeline ``classifier o stack``; ``attack`` is the adaptive attack."""
    readout = last_linear(classifier)
    if readout is None:
        return skipped("binarization", "the classifier has no nn.Linear readout to replace")
    n = len(x)
    inner_delta = (torch.rand((n, inner_points, *x.shape[1:]), generator=generator) * 2 - 1) * (INNER_SCALE * eps)
    inner = torch.cat([x[:, None], (x[:, None] + inner_delta.to(x)).clamp(0, 1)], dim=1)
    delta = torch.rand(x.shape, generator=generator).to(x) * 2 - 1
    delta = delta / delta.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, *[1] * (x.ndim - 1))
    boundary = (x + eps * delta).clamp(0, 1)
    feats = _features_of(classifier, readout, stack, torch.cat([inner.flatten(0, 1), boundary]), batch_size).double()
    inner_f = feats[: n * (inner_points + 1)].view(n, inner_points + 1, -1)
    boundary_f = feats[n * (inner_points + 1):]
    weight, bias = _fit(inner_f, boundary_f)
    inner_ok = ((inner_f * weight[:, None]).sum(2) + bias[:, None] < 0).all(1)
    boundary_ok = (boundary_f * weight).sum(1) + bias > 0
    feasible = inner_ok & boundary_ok
    if not feasible.any():
        return skipped("binarization", f"no feasible test problem among {n} examples (the pipeline's features cannot "
                                       "separate the boundary point from the inner ones)")
    idx = feasible.nonzero().squeeze(1)
    binarized = BinaryReadout(classifier, weight[idx].to(x.dtype), bias[idx].to(x.dtype))
    x_adv = attack(binarized, x[idx], torch.zeros(len(idx), dtype=torch.long, device=x.device))
    with torch.no_grad():
        found = binarized(stack.purify(x_adv)).argmax(1) == 1
    miss = float((~found).double().mean())
    verdict = graded(miss, MISS_FAIL, MISS_WARN)
    text = (f"the adaptive attack missed {miss:.0%} of {len(idx)} binarized test problems that have an adversarial "
            f"example within eps ({n - len(idx)} of {n} infeasible)")
    if verdict is not Verdict.PASS:
        text += "; the attack is too weak for this defense: strengthen it (BPDA, EOT, more steps) before trusting its accuracy"
    return CheckResult("binarization", verdict, miss, MISS_FAIL, text)
