"""``avmixup`` (Lee et al. 2020): adversarial vertex mixup.

The adversarial vertex x_AV = x + gamma * delta (delta from PGD) is mixed with
the clean input, x_hat = u x + (1 - u) x_AV with u ~ U(0, 1) per example, and
the target is the same mix of two label-smoothed one-hots,
u * LS(y, smooth_clean) + (1 - u) * LS(y, smooth_adv), LS(y, l) putting l on the
true class and (1 - l) / (K - 1) on each other.  Defaults gamma 2.0,
smooth_clean 1.0, smooth_adv 0.1 (the paper's CIFAR-10 setting; ours
elsewhere).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import InvalidInputError
from bench.recipes.base import Recipe, TrainConfig
from bench.recipes.inner_attack import adversarial_batch
from bench.recipes.presets import ADVERSARIAL
from bench.recipes.registry import RECIPES, preset_config


def smoothed_one_hot(y: torch.Tensor, num_classes: int, on_value: float) -> torch.Tensor:
    off = (1.0 - on_value) / (num_classes - 1)
    return torch.full((len(y), num_classes), off, device=y.device).scatter_(1, y[:, None], on_value)


class AVMixup(Recipe):
    PRESETS = ADVERSARIAL

    def __init__(self, config: TrainConfig, gamma: float = 2.0, smooth_clean: float = 1.0, smooth_adv: float = 0.1) -> None:
        super().__init__(config)
        if gamma < 1 or not (0 <= smooth_adv <= 1 and 0 <= smooth_clean <= 1):
            raise InvalidInputError("avmixup needs gamma >= 1 and label-smoothing values in [0, 1]")
        self.gamma, self.smooth_clean, self.smooth_adv = gamma, smooth_clean, smooth_adv

    def extra_identity(self) -> dict:
        return {"gamma": self.gamma, "smooth_clean": self.smooth_clean, "smooth_adv": self.smooth_adv}

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        x_adv = adversarial_batch(model, x, y, eps=eps, step_size=c.step_size, steps=c.attack_steps, generator=generator)
        x_av = x + self.gamma * (x_adv - x)
        u = torch.rand(len(x), generator=generator, device=x.device)
        x_hat = (u.view(-1, 1, 1, 1) * x + (1 - u.view(-1, 1, 1, 1)) * x_av).clamp(0, 1)
        logits = model(x_hat)
        k = logits.shape[1]
        target = u[:, None] * smoothed_one_hot(y, k, self.smooth_clean) + (1 - u[:, None]) * smoothed_one_hot(y, k, self.smooth_adv)
        return torch.sum(-target * F.log_softmax(logits, 1), dim=1).mean()


@RECIPES.register("avmixup")
def avmixup(dataset: str, gamma: float = 2.0, smooth_clean: float = 1.0, smooth_adv: float = 0.1, **params) -> AVMixup:
    return AVMixup(preset_config(AVMixup, dataset, params), gamma=gamma, smooth_clean=smooth_clean, smooth_adv=smooth_adv)
