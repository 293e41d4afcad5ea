"""``trades`` (Zhang et al. 2019): CE on clean inputs + beta * KL(f(x) || f(x_adv)), beta 6.

The inner maximisation starts at x + 0.001 * N(0, 1) and ascends the KL
divergence, as in the reference implementation.
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

START_NOISE = 0.001


def _kl_to(reference: torch.Tensor):
    """Loss for the inner attack: per-example KL(p_ref || p(x)), p_ref fixed."""

    def loss(target, x, _y):
        return F.kl_div(F.log_softmax(target(x), 1), reference, reduction="none").sum(1)

    return loss


class Trades(Recipe):
    PRESETS = ADVERSARIAL

    def __init__(self, config: TrainConfig, beta: float = 6.0) -> None:
        super().__init__(config)
        if beta < 0:
            raise InvalidInputError(f"TRADES beta must be >= 0, got {beta}")
        self.beta = beta

    def extra_identity(self) -> dict:
        return {"beta": self.beta}

    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        with torch.no_grad():
            model.eval()
            p_clean = F.softmax(model(x), 1)
            model.train()
        noise = START_NOISE * torch.randn(x.shape, generator=generator, device=x.device)
        x_adv = adversarial_batch(model, x, y, eps=eps, step_size=c.step_size, steps=c.attack_steps, generator=generator,
                                  loss=_kl_to(p_clean), start=(x + noise).clamp(0, 1))
        logits = model(torch.cat([x, x_adv]))
        clean, adv = logits[: len(x)], logits[len(x):]
        robust = F.kl_div(F.log_softmax(adv, 1), F.softmax(clean, 1), reduction="batchmean")
        return F.cross_entropy(clean, y) + self.beta * robust


@RECIPES.register("trades")
def trades(dataset: str, beta: float = 6.0, **params) -> Trades:
    return Trades(preset_config(Trades, dataset, params), beta=beta)
