"""The attack base type (Foolbox 3's pattern).

An attack implements ``run``; the final ``__call__`` validates the inputs,
projects whatever ``run`` returns onto the eps-ball and [0, 1], and computes the
success flags, so no attack can skip that bookkeeping.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, ClassVar, final

import torch

from attacks.norms import Norm, project
from bench.errors import InvalidInputError

#: Anything mapping images in [0, 1] to logits: a classifier, or a pipeline C o purify.
Target = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class AttackResult:
    x_adv: torch.Tensor
    success: torch.Tensor  # bool (N,): the target misclassifies x_adv


def validate_inputs(x: torch.Tensor, y: torch.Tensor | None, eps: float) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise InvalidInputError(f"x must be a (N, C, H, W) tensor, got {getattr(x, 'shape', type(x))}")
    if not x.is_floating_point():
        raise InvalidInputError(f"x must be a floating-point tensor with pixels in [0, 1], got dtype {x.dtype}; divide uint8 images by 255")
    if not torch.isfinite(x).all():
        raise InvalidInputError("x contains NaN or infinite values")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise InvalidInputError("pixels must lie in [0, 1]; divide uint8 images by 255")
    if y is not None and (not isinstance(y, torch.Tensor) or y.ndim != 1 or len(y) != len(x)):
        raise InvalidInputError(f"labels must be a (N,) tensor with N = {len(x)}, got {tuple(getattr(y, 'shape', ())) or type(y).__name__}")
    if y is not None and (y.is_floating_point() or y.is_complex() or y.dtype == torch.bool):
        raise InvalidInputError(f"labels must be integer class indices, got dtype {y.dtype}")
    if y is not None and y.device != x.device:
        raise InvalidInputError(f"x is on {x.device} but the labels are on {y.device}; move both to one device")
    if not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise InvalidInputError(f"eps must be a finite number >= 0, got {eps!r}")


def predict(target: Target, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted labels; ``no_grad`` rather than ``inference_mode``, since a purifier in the target may need autograd inside."""
    with torch.no_grad():
        return torch.cat([target(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


class Attack(ABC):
    """An attack algorithm; its parameters are keyword arguments of the constructor."""

    #: Norms the algorithm supports; the first is its default.
    norms: ClassVar[tuple[Norm, ...]] = (Norm.LINF, Norm.L2)
    #: True when the algorithm only queries the target's outputs (no gradients): allowed under ``blackbox``.
    score_based: ClassVar[bool] = False
    #: Bump when a code change alters what ``run`` returns, so cached adversarial sets are not reused.
    VERSION: ClassVar[str] = "1"

    def __init__(self, norm: Norm | str | None = None) -> None:
        self.norm = Norm.coerce(norm) if norm is not None else self.norms[0]
        if self.norm not in self.norms:
            raise InvalidInputError(f"{type(self).__name__} supports norms {[n.value for n in self.norms]}, not {self.norm.value}")

    @abstractmethod
    def run(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator | None) -> torch.Tensor:
        """Adversarial examples for ``x`` (projected by ``__call__`` afterwards)."""

    @final
    def __call__(self, target: Target, x: torch.Tensor, y: torch.Tensor, eps: float, *, generator: torch.Generator | None = None) -> AttackResult:
        validate_inputs(x, y, eps)
        if eps == 0:  # the ball is the point x itself; some libraries divide by eps
            return AttackResult(x.clone(), predict(target, x) != y)
        x_adv = self.run(target, x, y, float(eps), generator).detach()
        if x_adv.shape != x.shape:
            raise RuntimeError(f"{type(self).__name__}.run returned shape {tuple(x_adv.shape)} for input {tuple(x.shape)}")
        x_adv = project(torch.where(torch.isfinite(x_adv), x_adv, x), x, float(eps), self.norm)
        return AttackResult(x_adv, predict(target, x_adv) != y)
