"""Running a Foolbox 3 attack as the ``run`` of an ``Attack``.

Foolbox is imported on first use (it costs about half a second).  Its own
success flags are discarded: ``Attack.__call__`` projects and recomputes them.
"""

from __future__ import annotations

from typing import Any

import torch

from attacks.base import Target
from attacks.targets import as_module


def run_foolbox(attack: Any, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Foolbox's clipped adversarials of ``attack`` (a ``foolbox.attacks`` instance) at ``eps``."""
    import foolbox as fb

    model = fb.PyTorchModel(as_module(target), bounds=(0, 1), device=x.device)
    _, clipped, _ = attack(model, x, y, epsilons=eps)
    return clipped
