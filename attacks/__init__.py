"""Attack algorithms; ``Attack`` is the base type for plugins.

Threat models (what an attack sees and runs against, ``attacks.threats``) sit a
layer above: they attack defense stacks, and defenses use the attack engine, so
this package does not import them.
"""

from attacks import apgd, autoattack, cw, deepfool, iterative, square, ssp  # noqa: F401  (registration)
from attacks.base import Attack, AttackResult, Target
from attacks.norms import Norm
from attacks.presets import attack_preset
from attacks.registry import ATTACKS

__all__ = ["ATTACKS", "Attack", "AttackResult", "Norm", "Target", "attack_preset"]
