"""``square``: the Square attack (Andriushchenko et al. 2020) through pyautoattack.

Score-based: it only queries the target's outputs, never its gradients, so it
is the attack of the ``blackbox`` threat model.  The package's defaults
(5,000 queries, p_init 0.8, margin loss) unless overridden.  It reseeds
torch's global RNG, so it runs inside ``fork_rng`` with a seed drawn from the
caller's generator.
"""

from __future__ import annotations

import torch

from attacks.autoattack import AA_NORMS
from attacks.base import Attack, Target
from attacks.norms import Norm
from attacks.registry import ATTACKS
from attacks.targets import rng_devices, seed_from
from bench.errors import InvalidInputError


class Square(Attack):
    """Random-search attack on the margin of the target's scores."""

    score_based = True

    def __init__(self, n_queries: int = 5000, p_init: float = 0.8, restarts: int = 1, loss: str = "margin",
                 norm: Norm | str | None = None) -> None:
        super().__init__(norm=norm)
        if n_queries < 1 or restarts < 1:
            raise InvalidInputError(f"n_queries and restarts must be >= 1, got {n_queries} and {restarts}")
        if loss not in ("margin", "ce"):
            raise InvalidInputError(f"square loss must be 'margin' or 'ce', got {loss!r}")
        self.n_queries, self.p_init, self.restarts, self.loss = n_queries, p_init, restarts, loss

    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        from pyautoattack.square import SquareAttack

        def scores(images: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return target(images)

        seed = seed_from(generator)
        with torch.random.fork_rng(devices=rng_devices(x)):
            search = SquareAttack(scores, norm=AA_NORMS[self.norm], n_queries=self.n_queries, eps=eps, p_init=self.p_init,
                                  n_restarts=self.restarts, seed=seed, loss=self.loss, device=x.device)
            return search.perturb(x, y)


@ATTACKS.register("square")
def square(**params) -> Square:
    return Square(**params)
