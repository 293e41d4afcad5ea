"""Threat models: what an attack is allowed to see and what it is run against.

``craft`` is the one entry point the runner uses.  Under ``oblivious`` and
``transfer`` the adversarial set does not depend on the defense stack (the
runner reuses it for every stack); the others attack the defended pipeline:

- ``auxaware``: an iterative attack (pgd, mim) maximising eq. 2 of the
  AID-Purifier paper on the classifier and the stages' auxiliary losses;
- ``adaptive``: any attack on C o purify, gradients through every stage by
  autograd, unrolling or BPDA (``gradient``), EOT over ``eot_samples`` forward
  passes when a stage is randomized.  ``relu_beta`` (default 10; inf: off)
  gives ReLU softplus_beta's second derivative inside unrolled
  purifications (``attacks.curvature``), without which the unrolled gradient
  through a ReLU network is BPDA's.  For the iterative attacks (pgd, mim) on a
  defended pipeline: ``select="best"`` (default) returns each example's best
  iterate as judged by the real pipeline, since BPDA and unrolled gradients
  are surrogates and the last iterate need not be the best;
  ``start="oblivious"`` (default) first crafts the same attack against C
  alone and starts there, which the attacker may always do, so that with
  ``select="best"`` the adaptive attack fools the pipeline on every example
  the oblivious one does; ``aux_lam`` adds eq. 2's ``-lam * L_D`` term to the
  pipeline's loss.  Without a stack the adaptive attack is the plain one;
- ``blackbox``: a score-based attack (square) querying the whole pipeline.

Success flags are those of the attacked target: C for ``oblivious`` and
``auxaware``, the surrogate for ``transfer``, and for ``adaptive`` and
``blackbox`` one forward pass of the real pipeline (one random draw for a
randomized stack), as the evaluation will see it.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from attacks.threats.auxaware import AuxAwareLoss
from attacks.base import Attack, AttackResult, Target, predict
from attacks.curvature import check_beta
from attacks.iterative import IterativeAttack
from attacks.threats.pipeline import DefendedPipeline, Expectation, GradientMode, QueryOnly, check_eot_samples
from bench.choice import Choice
from bench.errors import InvalidInputError
from defenses.stack import Stack

#: Bump when ``craft`` changes what a threat model produces for the same attack (it enters adversarial-set keys).
VERSION = "3"  # 3: eq. 2 evaluates each stage's aux_loss on that stage's own input
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


class ThreatModel(Choice):
    OBLIVIOUS = "oblivious"  # attack C; evaluate purify-then-C (the paper's tables)
    AUXAWARE = "auxaware"  # maximise (1 - lam) L_C - lam L_D (the paper's eq. 2)
    ADAPTIVE = "adaptive"  # attack C o purify: BPDA / EOT / unrolled gradients
    BLACKBOX = "blackbox"  # score queries of the whole pipeline (Square)
    TRANSFER = "transfer"  # craft on a surrogate classifier, evaluate on the pipeline

    @property
    def depends_on_stack(self) -> bool:
        """False when one adversarial set serves every defense stack on the same classifier."""
        return self not in (ThreatModel.OBLIVIOUS, ThreatModel.TRANSFER)


def check_aux_lam(lam: float) -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or not 0 <= lam <= 1:
        raise InvalidInputError(f"aux_lam must be a number in [0, 1] (the weight of -L_D in eq. 2), got {lam!r}")
    return float(lam)


def threat_param_checks() -> dict[str, Callable[[Any], Any]]:
    """A validator for each keyword of ``craft`` that a spec may set per threat (``threat_params``)."""
    return {"gradient": GradientMode.coerce, "eot_samples": check_eot_samples, "select": Selection.coerce,
            "start": Start.coerce, "relu_beta": check_beta, "aux_lam": check_aux_lam}


def threat_names() -> list[str]:
    """The threat-model names, for ``run_bench.py list threats``."""
    return [t.value for t in ThreatModel]


def craft(threat: ThreatModel | str, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor,
          y: torch.Tensor, eps: float, *, lam: float | None = None, generator: torch.Generator | None = None,
          gradient: GradientMode | str = GradientMode.AUTO, eot_samples: int = DEFAULT_EOT_SAMPLES,
          select: Selection | str = Selection.BEST, start: Start | str = Start.OBLIVIOUS,
          relu_beta: float = DEFAULT_RELU_BETA, aux_lam: float | None = None) -> AttackResult:
    """Adversarial examples for ``x`` under ``threat``.

    ``classifier`` is the attacked classifier (for ``transfer``, the surrogate);
    ``stack`` the defense stack (``None``: undefended).  ``lam`` is required by
    ``auxaware`` and refused elsewhere; the other keywords shape the
    ``adaptive`` attack (see the module docstring).
    """
    threat = ThreatModel.coerce(threat)
    gradient = GradientMode.coerce(gradient)
    check_eot_samples(eot_samples)
    select, start, relu_beta = Selection.coerce(select), Start.coerce(start), check_beta(relu_beta)
    aux_lam = check_aux_lam(aux_lam) if aux_lam is not None else None
    if lam is not None and threat is not ThreatModel.AUXAWARE:
        raise InvalidInputError(f"lam applies to the auxaware threat only, not to {threat.value}; leave it unset")
    if threat in (ThreatModel.OBLIVIOUS, ThreatModel.TRANSFER):
        return attack(classifier, x, y, eps, generator=generator)
    if threat is ThreatModel.AUXAWARE:
        return _auxaware(attack, classifier, stack, x, y, eps, lam, generator)
    if threat is ThreatModel.BLACKBOX and not attack.score_based:
        raise InvalidInputError(f"the blackbox threat allows score-based attacks only (square), not {type(attack).__name__}")
    pipeline = DefendedPipeline(classifier, stack, gradient, relu_beta) if stack is not None else classifier
    randomized = stack is not None and stack.randomized
    if threat is ThreatModel.BLACKBOX:
        result = attack(QueryOnly(pipeline), x, y, eps, generator=generator)
    else:
        if stack is not None:
            attack = _adaptive(attack, classifier, stack, x, y, eps, generator, select, start, aux_lam)
        result = attack(Expectation(pipeline, eot_samples) if randomized else pipeline, x, y, eps, generator=generator)
    return AttackResult(result.x_adv, predict(pipeline, result.x_adv) != y) if randomized else result


def _adaptive(attack: Attack, classifier: Target, stack: Stack, x: torch.Tensor, y: torch.Tensor, eps: float,
              generator: torch.Generator | None, select: Selection, start: Start, aux_lam: float | None) -> Attack:
    """``attack`` with the adaptive threat's iterate selection, start and loss (iterative attacks; others run as given)."""
    if not isinstance(attack, IterativeAttack):
        if aux_lam is not None:
            raise InvalidInputError(f"aux_lam applies to the iterative attacks (pgd, mim), not {type(attack).__name__}")
        return attack
    origin = attack(classifier, x, y, eps, generator=generator).x_adv if start is Start.OBLIVIOUS else None
    if aux_lam is not None:
        attack = attack.with_loss(AuxAwareLoss(stack, aux_lam))
    return attack.with_selection(keep_best=select is Selection.BEST, start=origin)


def _auxaware(attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float,
              lam: float | None, generator: torch.Generator | None) -> AttackResult:
    if not isinstance(attack, IterativeAttack):
        raise InvalidInputError(f"the auxaware threat runs on the iterative engine (pgd, mim), not {type(attack).__name__}")
    return attack.with_loss(AuxAwareLoss(stack, lam))(classifier, x, y, eps, generator=generator)
