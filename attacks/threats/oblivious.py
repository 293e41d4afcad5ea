"""``oblivious``: the attack sees the base classifier C only; the purifier is applied afterwards (the paper's tables)."""

from __future__ import annotations

import torch

from attacks.base import Attack, AttackResult, Target
from attacks.threats.model import Role, ThreatModel
from attacks.threats.registry import THREATS
from defenses.stack import Stack

#: The threat of the paper's tables: the spec's default and the clean column's.
NAME = "oblivious"


@THREATS.register(NAME)
class Oblivious(ThreatModel):
    """Attack C; evaluate purify-then-C.  One adversarial set serves every stack on the classifier."""

    VERSION = "3"  # the built-in threats' one version (3: eq. 2 on each stage's own input)
    depends_on_stack = False
    role = Role.BASELINE

    def run(self, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float, *,
            lam: float | None, generator: torch.Generator | None) -> AttackResult:
        return attack(classifier, x, y, eps, generator=generator)
