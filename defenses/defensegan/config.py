"""The resolved configuration of one Defense-GAN: the GAN, its training, and the latent search."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.errors import InvalidInputError
from defenses.parameter_checks import check_number


@dataclass(frozen=True)
class DefenseGANConfig:
    """Everything that determines a fitted Defense-GAN and its purification."""

    restarts: int  # L: random starting points of the latent search
    search_steps: int  # R: Adam steps on z from each starting point
    search_lr: float = 0.1
    restart_seed: int = 0  # seeds the L starting points, the same for every image
    latent: int = 32
    width: int = 16  # channels of the generator's last hidden layer and the discriminator's first
    train_steps: int = 500  # generator updates, one discriminator update each
    batch_size: int = 64
    lr: float = 1e-3
    beta1: float = 0.5

    def __post_init__(self) -> None:
        for name in ("restarts", "latent", "width", "train_steps", "batch_size"):
            check_number("defensegan", name, getattr(self, name), minimum=1, integer=True)
        check_number("defensegan", "search_steps", self.search_steps, minimum=0, integer=True)
        check_number("defensegan", "restart_seed", self.restart_seed, minimum=0, integer=True)
        for name in ("search_lr", "lr"):
            check_number("defensegan", name, getattr(self, name), minimum=0.0, strict=True)
        if not 0 <= self.beta1 < 1:
            raise InvalidInputError(f"defensegan beta1 must be in [0, 1), got {self.beta1!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
