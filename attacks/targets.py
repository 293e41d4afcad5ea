"""Adapters between attack targets and what wrapped libraries expect.

Foolbox and AutoAttack need an ``nn.Module``; a target may be any callable
(a classifier, or a defended pipeline), so it is wrapped in a tiny module.
"""

from __future__ import annotations

import torch
from torch import nn

from attacks.base import Target


class CallableModule(nn.Module):
    """An ``nn.Module`` whose forward is a plain callable (kept in eval mode)."""

    def __init__(self, fn: Target) -> None:
        super().__init__()
        self.fn = fn
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def as_module(target: Target) -> nn.Module:
    """``target`` itself when it is a module, else a ``CallableModule`` around it."""
    return target if isinstance(target, nn.Module) else CallableModule(target)


def seed_from(generator: torch.Generator | None) -> int:
    """A seed for libraries that reseed torch's global RNG, drawn from ``generator`` (or the global RNG)."""
    device = generator.device if generator is not None else None
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator, device=device))


def rng_devices(x: torch.Tensor) -> list[int]:
    """The CUDA devices whose RNG state ``torch.random.fork_rng`` must restore around a library call on ``x``."""
    return [x.device.index or 0] if x.device.type == "cuda" else []
