"""``autoattack``: AutoAttack (Croce & Hein 2020) through pyautoattack, the PyPI package of its reference code.

Versions ``standard`` (APGD-CE, APGD-T, FAB-T, Square) and ``rand`` (APGD-CE
and APGD-DLR with EOT, for randomized defenses), norms L-inf and L2, on
whatever device the images are on.  The package's own parameters are kept
unless overridden (``n_iter``, ``n_queries``, ``n_target_classes``,
``eot_iter``: cheaper settings for tests).  It reseeds torch's global RNG, so
it runs inside ``fork_rng`` with a seed drawn from the caller's generator.
"""

from __future__ import annotations

import torch

from attacks.base import Attack, Target
from attacks.norms import Norm
from attacks.registry import ATTACKS
from attacks.targets import as_module, rng_devices, seed_from
from bench.errors import InvalidInputError

VERSIONS = ("standard", "rand")
#: Settings that, when given, replace the package's own: the ensemble is then a custom version, not AutoAttack as published.
CUSTOM_SETTINGS = ("n_iter", "n_queries", "n_target_classes", "eot_iter")
AA_NORMS = {Norm.LINF: "Linf", Norm.L2: "L2"}


class AutoAttack(Attack):
    """AutoAttack's standard or rand ensemble."""

    def __init__(self, version: str = "standard", n_iter: int | None = None, n_queries: int | None = None,
                 n_target_classes: int | None = None, eot_iter: int | None = None, batch_size: int = 500,
                 norm: Norm | str | None = None) -> None:
        super().__init__(norm=norm)
        if version not in VERSIONS:
            raise InvalidInputError(f"unknown AutoAttack version {version!r}; use one of: {', '.join(VERSIONS)}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
        self.version, self.batch_size = version, batch_size
        self.n_iter, self.n_queries, self.n_target_classes, self.eot_iter = n_iter, n_queries, n_target_classes, eot_iter

    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        from pyautoattack import AutoAttack as Ensemble

        seed = seed_from(generator)
        with torch.random.fork_rng(devices=rng_devices(x)):
            ensemble = Ensemble(as_module(target), norm=AA_NORMS[self.norm], eps=eps, version=self.version, seed=seed, device=x.device)
            ensemble.verbose = False
            self._override(ensemble)
            x_adv, _ = ensemble.run_standard_evaluation(x, y, batch_size=self.batch_size)
        return x_adv

    def _override(self, ensemble) -> None:  # type: ignore[no-untyped-def]
        if self.n_iter is not None:
            ensemble.apgd.n_iter = ensemble.apgd_targeted.n_iter = ensemble.fab.n_iter = self.n_iter
        if self.n_queries is not None:
            ensemble.square.n_queries = self.n_queries
        if self.n_target_classes is not None:
            ensemble.apgd_targeted.n_target_classes = ensemble.fab.n_target_classes = self.n_target_classes
        if self.eot_iter is not None:
            ensemble.apgd.eot_iter = self.eot_iter


@ATTACKS.register("autoattack")
def autoattack(**params) -> AutoAttack:
    return AutoAttack(**params)
