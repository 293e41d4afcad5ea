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


def margins(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Best other logit minus the true one, per example: > 0 exactly when the prediction is wrong."""
    true = logits.gather(1, y[:, None]).squeeze(1)
    return logits.scatter(1, y[:, None], float("-inf")).amax(1) - true


def margin(target: Target, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """C&W's margin: best other logit minus the true one."""
    return margins(target(x), y)


LOSSES: dict[str, AttackLoss] = {"ce": cross_entropy, "margin": margin}
