"""The defense registry: factories ``(**params) -> Defense``."""

from __future__ import annotations

from defenses.base import Defense
from bench.registry import Registry

DEFENSES: Registry[Defense] = Registry("defenses")
