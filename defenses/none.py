"""``none``: no purification, the baseline every defense is compared with."""

from __future__ import annotations

import torch

from defenses.base import Defense
from defenses.registry import DEFENSES


class NoDefense(Defense):
    """No purification: the input is passed on unchanged."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x


@DEFENSES.register("none")
def none(**params) -> NoDefense:
    return NoDefense(**params)
