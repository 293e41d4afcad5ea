"""``madry``: PGD adversarial training (Madry et al. 2018): minimise the loss at PGD's worst case."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.recipes.base import Recipe
from bench.recipes.inner_attack import adversarial_batch
from bench.recipes.presets import ADVERSARIAL
from bench.recipes.registry import RECIPES, preset_config


class Madry(Recipe):
    PRESETS = ADVERSARIAL

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        x_adv = adversarial_batch(model, x, y, eps=eps, step_size=c.step_size, steps=c.attack_steps, generator=generator)
        return F.cross_entropy(model(x_adv), y)


@RECIPES.register("madry")
def madry(dataset: str, **params) -> Madry:
    return Madry(preset_config(Madry, dataset, params))
