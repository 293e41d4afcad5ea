"""``trades`` (Zhang et al. 2019): CE on clean inputs + beta * KL(f(x) || f(x_adv)), beta 6.

As in the reference implementation (``trades_loss`` of the TRADES code): the
inner maximisation runs in eval mode, starts at x + 0.001 * N(0, 1) and ascends
the KL divergence; the update then runs the clean and the adversarial batch
through the train-mode network in separate forward passes, so batch
normalisation never mixes their statistics.  The reference computes the clean
logits twice (for the cross-entropy, and again as the KL target); the second
pass gives the same values and only updates batch-norm running statistics once
more, which we repeat so trained networks match the reference's.
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
    VERSION = "2"  # 2: clean and adversarial batches in separate forward passes (1 concatenated them)

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
        natural = F.cross_entropy(model(x), y)
        adv = model(x_adv)
        robust = F.kl_div(F.log_softmax(adv, 1), F.softmax(model(x), 1), reduction="batchmean")
        return natural + self.beta * robust


@RECIPES.register("trades")
def trades(dataset: str, beta: float = 6.0, **params) -> Trades:
    return Trades(preset_config(Trades, dataset, params), beta=beta)
