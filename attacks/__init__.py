"""Attack algorithms and threat models; ``Attack`` is the base type for plugins."""

import bench  # noqa: F401  (initialised first: its training recipes import the attack engine)
from attacks import apgd, autoattack, cw, deepfool, iterative, square, ssp  # noqa: F401  (registration)
from attacks.base import Attack, AttackResult, Target
from attacks.norms import Norm
from attacks.pipeline import GradientMode
from attacks.presets import attack_preset
from attacks.registry import ATTACKS
from attacks.threats import ThreatModel, craft, threat_names

__all__ = ["ATTACKS", "Attack", "AttackResult", "GradientMode", "Norm", "Target", "ThreatModel", "attack_preset", "craft",
           "threat_names"]
