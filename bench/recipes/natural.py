"""``natural``: plain empirical risk minimisation with cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.recipes.base import Recipe
from bench.recipes.presets import NATURAL
from bench.recipes.registry import RECIPES, preset_config


class Natural(Recipe):
    PRESETS = NATURAL

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
        return F.cross_entropy(model(x), y)


@RECIPES.register("natural")
def natural(dataset: str, **params) -> Natural:
    return Natural(preset_config(Natural, dataset, params))
