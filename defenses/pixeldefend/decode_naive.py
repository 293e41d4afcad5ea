"""The reference decoder: the whole PixelCNN on the whole image for every sub-pixel (H * W * C passes).

This is PixelDefend as published, batched across images; the fast decoder
must reproduce its output exactly, and the benchmark measures against it.
"""

from __future__ import annotations

import torch

from defenses.pixeldefend.choice import best_in_window
from defenses.pixeldefend.levels import window
from defenses.pixeldefend.network import PixelCNN


@torch.no_grad()
def decode_naive(net: PixelCNN, levels: torch.Tensor, eps_levels: int) -> torch.Tensor:
    """Greedy eps-bounded decoding of int64 ``levels`` (N, C, H, W) in raster, then channel, order."""
    low, high = window(levels, eps_levels)
    current = levels.clone()
    _, colours, height, width = levels.shape
    for i in range(height):
        for j in range(width):
            for c in range(colours):
                logits = net(current)[:, c, :, i, j]
                current[:, c, i, j], _ = best_in_window(logits, low[:, c, i, j], high[:, c, i, j])
    return current
