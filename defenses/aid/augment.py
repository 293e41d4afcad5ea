"""Training inputs and soft targets from clean examples and their attacks (Algorithm 1, lines 5-9).

With delta = x_adv - x, the vertex is v = x + g * delta (g = gamma for the AV
variants, 1 otherwise), clipped to [0, 1] because pixels live there outside a
model.  The mixup variants draw u ~ U(0, 1) per example and train on
x_hat = u x + (1 - u) v with t_hat = u t_clean + (1 - u) t_adv = 1 - u; the
others draw u from {0, 1} with equal probability, so every variant sees the
same number of examples per step and only the augmentation differs.
"""

from __future__ import annotations

import torch

from defenses.aid.config import Augmentation

T_CLEAN = 0.0
T_ADV = 1.0


def augment(x: torch.Tensor, x_adv: torch.Tensor, augmentation: Augmentation, gamma: float,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_hat, t_hat)`` for one batch; ``generator`` lives on ``x``'s device."""
    scale = gamma if augmentation in (Augmentation.AV, Augmentation.AVMIXUP) else 1.0
    vertex = (x + scale * (x_adv - x)).clamp(0.0, 1.0)
    u = torch.rand(len(x), generator=generator, device=x.device, dtype=x.dtype)
    if augmentation in (Augmentation.NONE, Augmentation.AV):
        u = (u < 0.5).to(x.dtype)
    w = u.view(-1, *([1] * (x.ndim - 1)))
    return w * x + (1 - w) * vertex, u * T_CLEAN + (1 - u) * T_ADV
