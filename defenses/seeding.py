"""Seeded construction of a defense's networks, leaving the caller's random state untouched."""

from __future__ import annotations

from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def build_seeded(make: Callable[[], T], seed: int) -> T:
    """``make()`` with torch's CPU generator seeded: a fitted or reloaded defense starts from the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return make()
