"""``adaptive``: any attack on the whole pipeline C o purify.

Gradients go through every stage by autograd, unrolling or BPDA
(``gradient``), with EOT over ``eot_samples`` forward passes when a stage is
randomized.  ``relu_beta`` (default 10; inf: off) gives ReLU softplus_beta's
second derivative inside unrolled purifications (``attacks.curvature``),
without which the unrolled gradient through a ReLU network is BPDA's.  For
the iterative attacks (pgd, mim) on a defended pipeline: ``select="best"``
(default) returns each example's best iterate as judged by the real pipeline,
since BPDA and unrolled gradients are surrogates and the last iterate need not
be the best; ``start="oblivious"`` (default) first crafts the same attack
against C alone and starts there, which the attacker may always do, so that
with ``select="best"`` the adaptive attack fools the pipeline on every example
the oblivious one does; ``aux_lam`` adds eq. 2's ``-lam * L_D`` term to the
pipeline's loss.  Without a stack the adaptive attack is the plain one.

A stage declaring ``gradient_impractical`` is crossed by BPDA's identity
unless ``gradient="unrolled"`` (``attacks.threats.pipeline``), and
``gradient_note`` says so in the adversarial set's label.

Success flags are those of one forward pass of the real pipeline (one random
draw for a randomized stack), as the evaluation will see it.
"""

from __future__ import annotations

from typing import Sequence

import torch

from attacks.base import Attack, AttackResult, Target, predict
from attacks.curvature import check_beta
from attacks.iterative import IterativeAttack
from attacks.threats.aux_loss import AuxAwareLoss, check_lam
from attacks.threats.model import Role, ThreatModel
from attacks.threats.pipeline import DefendedPipeline, Expectation, GradientMode, approximated_stages, check_eot_samples
from attacks.threats.registry import THREATS
from bench.choice import Choice
from bench.errors import InvalidInputError
from defenses.base import Defense
from defenses.stack import Stack

DEFAULT_EOT_SAMPLES = 8
#: Sharpness of the softplus whose curvature ReLU takes in unrolled purifications; set a priori, not tuned.
DEFAULT_RELU_BETA = 10.0


class Selection(Choice):
    """Which iterate an adaptive iterative attack returns."""

    LAST = "last"
    BEST = "best"  # highest margin of the real pipeline over all iterates


class Start(Choice):
    """Where an adaptive iterative attack's first restart begins."""

    RANDOM = "random"  # the attack's own start (uniform in the ball for PGD, x for MIM)
    OBLIVIOUS = "oblivious"  # the same attack's result against C alone


@THREATS.register("adaptive")
class Adaptive(ThreatModel):
    """Attack C o purify: BPDA, EOT and unrolled gradients, best iterate, oblivious start."""

    VERSION = "3"  # the built-in threats' one version (3: eq. 2 on each stage's own input)
    role = Role.ADAPTIVE

    def __init__(self, gradient: GradientMode | str = GradientMode.AUTO, eot_samples: int = DEFAULT_EOT_SAMPLES,
                 select: Selection | str = Selection.BEST, start: Start | str = Start.OBLIVIOUS,
                 relu_beta: float = DEFAULT_RELU_BETA, aux_lam: float | None = None) -> None:
        self.gradient = GradientMode.coerce(gradient)
        self.eot_samples = check_eot_samples(eot_samples)
        self.select, self.start = Selection.coerce(select), Start.coerce(start)
        self.relu_beta = check_beta(relu_beta)
        self.aux_lam = check_lam(aux_lam, "aux_lam") if aux_lam is not None else None

    def gradient_note(self, stages: Sequence[tuple[str, Defense]]) -> str | None:
        approximated = approximated_stages(stages, self.gradient)
        return f"BPDA through {', '.join(approximated)} (exact gradient declared impractical)" if approximated else None

    def run(self, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float, *,
            lam: float | None, generator: torch.Generator | None) -> AttackResult:
        if stack is None:
            return attack(classifier, x, y, eps, generator=generator)
        pipeline = DefendedPipeline(classifier, stack, self.gradient, self.relu_beta)
        attack = self._shaped(attack, classifier, stack, x, y, eps, generator)
        if not stack.randomized:
            return attack(pipeline, x, y, eps, generator=generator)
        result = attack(Expectation(pipeline, self.eot_samples), x, y, eps, generator=generator)
        return AttackResult(result.x_adv, predict(pipeline, result.x_adv) != y)

    def _shaped(self, attack: Attack, classifier: Target, stack: Stack, x: torch.Tensor, y: torch.Tensor, eps: float,
                generator: torch.Generator | None) -> Attack:
        """``attack`` with this threat's iterate selection, start and loss (iterative attacks; others run as given)."""
        if not isinstance(attack, IterativeAttack):
            if self.aux_lam is not None:
                raise InvalidInputError(f"aux_lam applies to the iterative attacks (pgd, mim), not {type(attack).__name__}")
            return attack
        origin = attack(classifier, x, y, eps, generator=generator).x_adv if self.start is Start.OBLIVIOUS else None
        if self.aux_lam is not None:
            attack = attack.with_loss(AuxAwareLoss(stack, self.aux_lam))
        return attack.with_selection(keep_best=self.select is Selection.BEST, start=origin)
