"""NRP's three training losses: feature distance, pixel distance and the relativistic critic loss.

The adversarial loss is the relativistic standard GAN of the NRP paper,
paired per example: the purifier wants its output P(x') to look more real
than the clean x, -log sigmoid(C(P(x')) - C(x)); the critic wants the
opposite, -log sigmoid(C(x) - C(P(x'))).  Both are softplus of the negated
difference, which is the same function without overflow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def feature_loss(purified_features: torch.Tensor, clean_features: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of F(P(x')) from F(x) (the clean features carry no gradient)."""
    return F.mse_loss(purified_features, clean_features.detach())


def pixel_loss(purified: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(purified, clean)


def purifier_adversarial_loss(score_purified: torch.Tensor, score_clean: torch.Tensor) -> torch.Tensor:
    return F.softplus(-(score_purified - score_clean)).mean()


def critic_loss(score_clean: torch.Tensor, score_purified: torch.Tensor) -> torch.Tensor:
    return F.softplus(-(score_clean - score_purified)).mean()
