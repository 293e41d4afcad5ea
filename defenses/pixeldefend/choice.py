"""The greedy step shared by both decoders: the most likely level within each sub-pixel's window."""

from __future__ import annotations

import torch

from defenses.pixeldefend.config import LEVELS


def best_in_window(logits: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(level, margin)`` per row of ``logits`` (B, 256) restricted to [low, high] (B,).

    ``level`` is the argmax (the lowest level on an exact tie); ``margin`` the
    gap between the best and the second-best logit in the window (+inf when the
    window holds one level), which tells the fast decoder how close a call was.
    """
    candidates = torch.arange(LEVELS, device=logits.device)
    inside = (candidates >= low[:, None]) & (candidates <= high[:, None])
    masked = logits.masked_fill(~inside, float("-inf"))
    level = masked.argmax(dim=1)
    top = masked.topk(2, dim=1).values
    return level, top[:, 0] - top[:, 1]
