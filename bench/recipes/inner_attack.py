"""The inner maximisation of adversarial training, run with the model in eval mode.

Batch-norm statistics are frozen while the attack runs (as in the TRADES
reference training) and the model's mode and gradient flags are restored for
the update.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from attacks.iterative import iterate
from attacks.losses import cross_entropy
from attacks.norms import Norm, random_start
from bench.models.frozen import frozen


def adversarial_batch(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    steps: int,
    generator: torch.Generator,
    loss: Callable = cross_entropy,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """PGD examples for training (L-inf, random start unless ``start`` is given)."""
    with frozen(model):
        begin = start if start is not None else random_start(x, eps, Norm.LINF, generator)
        x_adv = iterate(model, x, y, eps=eps, step_size=step_size, steps=steps, norm=Norm.LINF, loss=loss, start=begin)
    return x_adv.detach()
