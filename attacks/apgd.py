"""``apgd``: Auto-PGD (Croce & Hein 2020) alone, through pyautoattack, the PyPI package of its reference code.

APGD adapts its step size to the progress of the loss and keeps, per example,
a point that fools the target (else the highest-loss one), judged on the
target's own forward pass; on a defended pipeline, whose forward pass is the
real purification while its gradient is a surrogate (BPDA, unrolling), that
makes it a strong adaptive attack at the cost of a single APGD run, where
``autoattack`` runs the whole ensemble.  Restarts go only to the examples not
yet fooled.  The package reseeds torch's global RNG, so it runs inside
``fork_rng`` with a seed drawn from the caller's generator.
"""

from __future__ import annotations

import torch

from attacks.autoattack import AA_NORMS
from attacks.base import Attack, Target
from attacks.registry import ATTACKS
from attacks.targets import as_module, rng_devices, seed_from
from bench.errors import InvalidInputError

LOSSES = ("ce", "dlr")


class APGD(Attack):
    """APGD-CE or APGD-DLR, untargeted."""

    def __init__(self, n_iter: int = 100, loss: str = "ce", restarts: int = 1, rho: float = 0.75, norm=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(norm=norm)
        if loss not in LOSSES:
            raise InvalidInputError(f"unknown APGD loss {loss!r}; use one of: {', '.join(LOSSES)}")
        if n_iter < 1 or restarts < 1:
            raise InvalidInputError(f"n_iter and restarts must be >= 1, got n_iter={n_iter}, restarts={restarts}")
        if not 0 < rho < 1:
            raise InvalidInputError(f"rho must lie in (0, 1), got {rho!r}")
        self.n_iter, self.loss, self.restarts, self.rho = n_iter, loss, restarts, rho

    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        from pyautoattack.autopgd_base import APGDAttack

        seed = seed_from(generator)
        with torch.random.fork_rng(devices=rng_devices(x)):
            engine = APGDAttack(as_module(target), n_iter=self.n_iter, norm=AA_NORMS[self.norm], n_restarts=self.restarts,
                                eps=eps, seed=seed, loss=self.loss, rho=self.rho, device=x.device)
            return engine.perturb(x, y)


@ATTACKS.register("apgd")
def apgd(**params) -> APGD:
    return APGD(**params)
