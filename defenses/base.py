"""The defense base type: an input purifier attached to a frozen classifier.

A defense maps images in [0, 1] to images in [0, 1] of the same shape.  It
declares what adaptive attacks need to know about it (AutoAttack's
``checks.py`` warnings turned into declarations): ``randomized`` (adaptive
attacks then average gradients over samples, EOT) and ``differentiable``
(where False, adaptive attacks pass gradients straight through, BPDA, or
use ``unrolled_purify`` when the defense is ``unrollable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from bench.data.splits import Split


@dataclass
class FitContext:
    """What fitting a defense may use: the frozen classifier, the training split, where and how."""

    classifier: nn.Module
    train: Split
    dataset: str
    device: torch.device
    seed: int = 0
    progress: bool = True


class Defense:
    """Base type for defenses; subclasses implement ``purify`` and, if trained, ``fit``."""

    randomized: ClassVar[bool] = False
    differentiable: ClassVar[bool] = True
    #: True when ``unrolled_purify`` offers a differentiable surrogate of a non-differentiable ``purify``.
    unrollable: ClassVar[bool] = False
    #: Bump when the code changes what ``fit`` produces, so cached states are not reused.
    VERSION: ClassVar[str] = "1"
    #: Constructor parameters that only ``purify`` reads: variants differing in them share one fitted state.
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **params: Any) -> None:
        self.params = params

    @property
    def needs_fit(self) -> bool:
        """True when ``fit`` trains state that should be cached (the default for a defense with state)."""
        return bool(self.state_dict()) or type(self).fit is not Defense.fit

    def attach(self, ctx: FitContext) -> None:
        """Bind to ``ctx`` without training, before ``load_state_dict`` of a cached state.  Default: nothing."""

    def fit(self, ctx: FitContext) -> None:
        """Train whatever the defense learns; the classifier stays frozen.  Default: nothing."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement purify(x)")

    def unrolled_purify(self, x: torch.Tensor) -> torch.Tensor:
        """A differentiable surrogate of ``purify`` for adaptive attacks (only when ``unrollable``)."""
        raise NotImplementedError(f"{type(self).__name__} offers no unrolled purification")

    def aux_loss(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-example auxiliary loss for the auxiliary-aware attack (None: the defense has none)."""
        return None

    def to(self, device: torch.device) -> "Defense":
        for value in vars(self).values():
            if isinstance(value, nn.Module):
                value.to(device)
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors of every ``nn.Module`` attribute, prefixed by the attribute's name."""
        state: dict[str, torch.Tensor] = {}
        for attr, value in vars(self).items():
            if isinstance(value, nn.Module) and attr != "classifier":
                state.update({f"{attr}.{k}": v for k, v in value.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for attr, value in vars(self).items():
            if isinstance(value, nn.Module) and attr != "classifier":
                prefix = f"{attr}."
                value.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def identity(self) -> dict[str, Any]:
        """Everything that determines this defense's fitted state and outputs (enters cache keys)."""
        return {"type": f"{type(self).__module__}.{type(self).__qualname__}", "version": self.VERSION, "params": self.params}

    def fit_identity(self) -> dict[str, Any]:
        """What determines the fitted state: ``identity`` without the ``INFERENCE_PARAMS`` (keys the fit cache)."""
        identity = self.identity()
        params = {k: v for k, v in identity.get("params", {}).items() if k not in self.INFERENCE_PARAMS}
        return {**identity, "params": params}

    def describe(self) -> str:
        return (type(self).__doc__ or type(self).__name__).strip().splitlines()[0]
