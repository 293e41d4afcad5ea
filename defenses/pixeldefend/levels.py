"""The 8-bit grid PixelDefend decodes on: images <-> integer levels, and the eps-bounded window."""

from __future__ import annotations

import torch

from defenses.pixeldefend.config import LEVELS


def to_levels(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] -> int64 levels round(x * 255) (round half to even)."""
    return torch.round(x.detach() * (LEVELS - 1)).to(torch.int64)


def to_images(levels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return levels.to(dtype) / (LEVELS - 1)


def window(levels: torch.Tensor, eps_levels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The inclusive range [level - eps, level + eps] of candidates for each sub-pixel, clipped to 0..255."""
    return (levels - eps_levels).clamp_min(0), (levels + eps_levels).clamp_max(LEVELS - 1)
