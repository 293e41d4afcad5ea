"""The discriminator D of appendix A.2 (Table 5): one MLP branch per tap, concatenated, then a head.

Table 5 (the SVHN network) is ``branch_depth=2, head_depth=2``: each pooled tap
goes through Linear 1024-ReLU twice, the 2 x 1024 outputs are concatenated, then
Linear 1024-ReLU, Linear 512-ReLU, Linear 1.  CIFAR and TinyImageNet add one
layer on each side (``3, 3``).  The head's last hidden layer is half as wide as
the others, as in Table 5.  D returns the logit of p_adv; the sigmoid of Table 5
is applied by the loss (``binary_cross_entropy_with_logits``), which is the same
function computed without overflow.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def _mlp(in_features: int, widths: Sequence[int]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    return nn.Sequential(*layers), in_features


class Discriminator(nn.Module):
    """D(h_1(x), ..., h_K(x)) -> logit of the probability that x is adversarial."""

    def __init__(self, in_features: Sequence[int], width: int = 1024, branch_depth: int = 2, head_depth: int = 2) -> None:
        super().__init__()
        branches = [_mlp(n, [width] * branch_depth) for n in in_features]
        self.branches = nn.ModuleList(branch for branch, _ in branches)
        head_widths = [width] * (head_depth - 1) + [max(width // 2, 1)] if head_depth > 0 else []
        self.head, last = _mlp(sum(out for _, out in branches), head_widths)
        self.out = nn.Linear(last, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Logits ``(N,)`` from one pooled feature tensor ``(N, F_k)`` per tap."""
        joined = torch.cat([branch(h) for branch, h in zip(self.branches, features, strict=True)], dim=1)
        return self.out(self.head(joined)).squeeze(1)
