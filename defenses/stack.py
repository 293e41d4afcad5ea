"""Stacks of defenses: ``"pixeldefend+aid"`` applies PixelDefend, then AID.

Each stage is fitted and cached on its own (against the frozen classifier and
the clean training data), so a stage fitted once serves every stack that
contains it.  A stack is randomized if any stage is, differentiable only if
every stage is; adaptive attacks look at each stage's own flags (a stage that
is not differentiable gets BPDA or its unrolling, the others autograd).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from bench.errors import InvalidInputError
from defenses.base import Defense
from defenses.registry import DEFENSES

SEPARATOR = "+"


def parse_stack(name: str) -> list[str]:
    """``"a+b"`` -> ``["a", "b"]``; ``"none"`` is only valid alone."""
    stages = [s.strip() for s in name.split(SEPARATOR)]
    if not name or any(not s for s in stages):
        raise InvalidInputError(f"bad defense stack {name!r}; write stage names joined by '+', e.g. 'pixeldefend+aid'")
    if len(stages) > 1 and "none" in stages:
        raise InvalidInputError(f"'none' cannot be part of a stack ({name!r}); use it alone")
    return stages


class Stack:
    """An ordered list of named defenses applied one after the other."""

    def __init__(self, stages: Sequence[tuple[str, Defense]]) -> None:
        if not stages:
            raise InvalidInputError("a defense stack needs at least one stage")
        self.stages = list(stages)

    @classmethod
    def from_name(cls, name: str, params: Mapping[str, Mapping[str, Any]] | None = None) -> "Stack":
        """Build ``name`` with ``params[stage]`` as each stage's keyword arguments."""
        params = params or {}
        return cls([(stage, DEFENSES.create(stage, **dict(params.get(stage, {})))) for stage in parse_stack(name)])

    @property
    def name(self) -> str:
        return SEPARATOR.join(n for n, _ in self.stages)

    @property
    def randomized(self) -> bool:
        return any(d.randomized for _, d in self.stages)

    @property
    def differentiable(self) -> bool:
        """True when plain autograd through every stage is what the stages declare usable."""
        return all(d.differentiable for _, d in self.stages)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        for _, defense in self.stages:
            x = defense.purify(x)
        return x

    def to(self, device: torch.device) -> "Stack":
        for _, defense in self.stages:
            defense.to(device)
        return self
