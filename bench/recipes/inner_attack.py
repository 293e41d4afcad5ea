"""The inner maximisation of adversarial training, run with the model in eval mode.

Batch-norm statistics are frozen while the attack runs (as in the TRADES
reference training) and the model is put back in train mode for the update.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from attacks.iterative import iterate
from attacks.losses import cross_entropy
from attacks.norms import Norm, random_start


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
    was_training = model.training
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        begin = start if start is not None else random_start(x, eps, Norm.LINF, generator)
        x_adv = iterate(model, x, y, eps=eps, step_size=step_size, steps=steps, norm=Norm.LINF, loss=loss, start=begin)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
        model.train(was_training)
    return x_adv.detach()
