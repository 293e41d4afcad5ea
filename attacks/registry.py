"""The attack registry: factories ``(**params) -> Attack``."""

from __future__ import annotations

from attacks.base import Attack
from bench.registry import Registry

ATTACKS: Registry[Attack] = Registry("attacks")
