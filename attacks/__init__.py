"""Attack algorithms and threat models; ``Attack`` is the base type for plugins."""

from attacks import iterative  # noqa: F401  (registration)
from attacks.base import Attack, AttackResult, Target
from attacks.norms import Norm
from attacks.registry import ATTACKS

__all__ = ["ATTACKS", "Attack", "AttackResult", "Norm", "Target"]
