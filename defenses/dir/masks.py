"""Complementary random masks: information discard of DIR.

A mask keeps each ``patch`` x ``patch`` square of the image (single pixels by
default) with probability 1/2: Bernoulli draws on a coarse grid, repeated to
pixels, the same for every channel.  Its complement keeps exactly the other
squares, so every pixel is seen by one of the two copies and discarded by
the other, and the noise an attacker spreads over neighbouring pixels is cut
into two unrelated halves.
"""

from __future__ import annotations

import math

import torch


def random_mask(n: int, height: int, width: int, patch: int, *, generator: torch.Generator | None,
                device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``(n, 1, height, width)`` masks of 0s and 1s (``generator=None``: torch's global generator)."""
    grid = torch.rand(n, 1, math.ceil(height / patch), math.ceil(width / patch), generator=generator, device=device) < 0.5
    full = grid.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)
    return full[:, :, :height, :width].to(dtype)
