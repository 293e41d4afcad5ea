"""Threat models: what an attack is allowed to see and what it is run against.

``craft`` is the one entry point the runner uses.  Under ``oblivious`` and
``transfer`` the adversarial set does not depend on the defense stack (the
runner reuses it for every stack); the others attack the defended pipeline:

- ``auxaware``: an iterative attack (pgd, mim) maximising eq. 2 of the
  AID-Purifier paper on the classifier and the stages' auxiliary losses;
- ``adaptive``: any attack on C o purify, gradients through every stage by
  autograd, unrolling or BPDA (``gradient``), EOT over ``eot_samples`` forward
  passes when a stage is randomized;
- ``blackbox``: a score-based attack (square) querying the whole pipeline.

Success flags are those of the attacked target: C for ``oblivious`` and
``auxaware``, the surrogate for ``transfer``, and for ``adaptive`` and
``blackbox`` one forward pass of the real pipeline (one random draw for a
randomized stack), as the evaluation will see it.
"""

from __future__ import annotations

from enum import Enum

import torch

from attacks.auxaware import AuxAwareLoss
from attacks.base import Attack, AttackResult, Target, predict
from attacks.iterative import IterativeAttack
from attacks.pipeline import DefendedPipeline, Expectation, GradientMode, QueryOnly, check_eot_samples
from bench.errors import InvalidInputError
from defenses.stack import Stack

DEFAULT_EOT_SAMPLES = 8


class ThreatModel(str, Enum):
    OBLIVIOUS = "oblivious"  # attack C; evaluate purify-then-C (the paper's tables)
    AUXAWARE = "auxaware"  # maximise (1 - lam) L_C - lam L_D (the paper's eq. 2)
    ADAPTIVE = "adaptive"  # attack C o purify: BPDA / EOT / unrolled gradients
    BLACKBOX = "blackbox"  # score queries of the whole pipeline (Square)
    TRANSFER = "transfer"  # craft on a surrogate classifier, evaluate on the pipeline

    @classmethod
    def coerce(cls, value: "ThreatModel | str") -> "ThreatModel":
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(f"unknown threat model {value!r}; use one of: {', '.join(t.value for t in cls)}") from None

    @property
    def depends_on_stack(self) -> bool:
        """False when one adversarial set serves every defense stack on the same classifier."""
        return self not in (ThreatModel.OBLIVIOUS, ThreatModel.TRANSFER)


def threat_names() -> list[str]:
    """The threat-model names, for ``run_bench.py list threats``."""
    return [t.value for t in ThreatModel]


def craft(threat: ThreatModel | str, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor,
          y: torch.Tensor, eps: float, *, lam: float | None = None, generator: torch.Generator | None = None,
          gradient: GradientMode | str = GradientMode.AUTO, eot_samples: int = DEFAULT_EOT_SAMPLES) -> AttackResult:
    """Adversarial examples for ``x`` under ``threat``.

    ``classifier`` is the attacked classifier (for ``transfer``, the surrogate);
    ``stack`` the defense stack (``None``: undefended).  ``lam`` is required by
    ``auxaware`` and refused elsewhere; ``gradient`` and ``eot_samples`` shape
    the ``adaptive`` attack.
    """
    threat = ThreatModel.coerce(threat)
    gradient = GradientMode.coerce(gradient)
    check_eot_samples(eot_samples)
    if lam is not None and threat is not ThreatModel.AUXAWARE:
        raise InvalidInputError(f"lam applies to the auxaware threat only, not to {threat.value}; leave it unset")
    if threat in (ThreatModel.OBLIVIOUS, ThreatModel.TRANSFER):
        return attack(classifier, x, y, eps, generator=generator)
    if threat is ThreatModel.AUXAWARE:
        return _auxaware(attack, classifier, stack, x, y, eps, lam, generator)
    if threat is ThreatModel.BLACKBOX and not attack.score_based:
        raise InvalidInputError(f"the blackbox threat allows score-based attacks only (square), not {type(attack).__name__}")
    pipeline = DefendedPipeline(classifier, stack, gradient) if stack is not None else classifier
    randomized = stack is not None and stack.randomized
    if threat is ThreatModel.BLACKBOX:
        result = attack(QueryOnly(pipeline), x, y, eps, generator=generator)
    else:
        result = attack(Expectation(pipeline, eot_samples) if randomized else pipeline, x, y, eps, generator=generator)
    return AttackResult(result.x_adv, predict(pipeline, result.x_adv) != y) if randomized else result


def _auxaware(attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float,
              lam: float | None, generator: torch.Generator | None) -> AttackResult:
    if not isinstance(attack, IterativeAttack):
        raise InvalidInputError(f"the auxaware threat runs on the iterative engine (pgd, mim), not {type(attack).__name__}")
    return attack.with_loss(AuxAwareLoss(stack, lam))(classifier, x, y, eps, generator=generator)
