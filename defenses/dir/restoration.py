"""Restoration from two complementary masked copies: what DIR's inference computes, and what training optimises.

Both copies go through the denoiser in one batch.  With ``fill`` each output
pixel comes from the copy in which that pixel was discarded, so the value an
attacker writes into a pixel never reaches that pixel's output directly; with
``mean`` the two full restorations are averaged.  ``restore`` is unclipped
(what the reconstruction loss reads); ``restored_image`` clips it to [0, 1],
what purification returns and what the classifier sees in training.
"""

from __future__ import annotations

import torch
from torch import nn

from defenses.dir.config import Combine


def restore(denoiser: nn.Module, x: torch.Tensor, mask: torch.Tensor, combine: Combine) -> torch.Tensor:
    """One image from g(x * m, m) and g(x * (1 - m), 1 - m); ``mask`` is (N or 1, 1, H, W)."""
    mask = mask.expand(len(x), *mask.shape[1:])
    keep = torch.cat([mask, 1 - mask])
    seen_by_first, seen_by_second = denoiser(torch.cat([x, x]) * keep, keep).chunk(2)
    if combine is Combine.FILL:
        return (1 - mask) * seen_by_first + mask * seen_by_second
    return (seen_by_first + seen_by_second) / 2


def restored_image(denoiser: nn.Module, x: torch.Tensor, mask: torch.Tensor, combine: Combine) -> torch.Tensor:
    """``restore`` clipped to [0, 1]."""
    return restore(denoiser, x, mask, combine).clamp(0.0, 1.0)
