"""Per-example losses the iterative engine maximises (pluggable, so one engine serves all)."""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F

from attacks.base import Target


class AttackLoss(Protocol):
    def __call__(self, target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-example losses (N,) to maximise."""


def cross_entropy(target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(target(x), y, reduction="none")


def margin(target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """C&W's margin: best other logit minus the true one."""
    logits = target(x)
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
    return other - true


LOSSES: dict[str, AttackLoss] = {"ce": cross_entropy, "margin": margin}
