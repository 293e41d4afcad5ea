"""The threat-model contract: what a threat says about itself, and how it crafts.

A threat model is an object that spec validation, the planner, the runner, the
summary and the report ask instead of comparing names: which attacks and
stacks it accepts (and why not), which extra axes of the matrix it adds,
whether its adversarial set depends on the defense stack, where the report
puts its results, and, given an attack, how it crafts.  Its parameters are
keyword arguments of the constructor, validated there (a spec's
``[threat_params.LABEL]``), so a threat built once is valid.

``craft`` is final: it refuses what the threat declared it cannot run, then
calls the threat's ``run``, so a threat cannot skip those checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Sequence, final

import torch

from attacks.base import Attack, AttackResult, Target
from bench.choice import Choice
from bench.errors import InvalidInputError
from defenses.base import Defense
from defenses.stack import Stack


class Axis(Choice):
    """An axis of the matrix a threat adds: one adversarial set per value of the block's list."""

    LAM = "lam"  # eq. 2's lambda, passed to ``craft`` as ``lam``
    SOURCES = "sources"  # transfer surrogates: the planner passes the surrogate as the attacked classifier


class Role(Choice):
    """Where the report shows a threat's results."""

    BASELINE = "baseline"  # the attack sees C only (the paper's Tables 1 and 3; the reference of the adaptive table)
    ADAPTIVE = "adaptive"  # the attack sees the defense: compared with the baseline, per defense
    QUERY = "query"  # score queries of the whole pipeline (Table 4, a column per attack)
    TRANSFER = "transfer"  # crafted on a surrogate (Table 4, a column per source)
    OTHER = "other"  # the end-of-run summary, the generic tables and the exports only


class ThreatModel(ABC):
    """What an attack is allowed to see and what it is run against."""

    #: Bump when ``run`` changes what it produces for the same attack (it enters adversarial-set keys).
    VERSION: ClassVar[str] = "1"
    #: False when one adversarial set serves every defense stack on the same classifier.
    depends_on_stack: ClassVar[bool] = True
    #: Extra axes of the matrix; a block that runs this threat must give each one values.
    axes: ClassVar[frozenset[Axis]] = frozenset()
    role: ClassVar[Role] = Role.OTHER

    def refuse_attack(self, attack: Attack) -> str | None:
        """Why this threat cannot run ``attack`` (a sentence naming what it needs), or None."""
        return None

    def refuse_stack(self, stages: Sequence[Defense]) -> str | None:
        """Why this threat cannot attack a stack of these stages (a sentence naming what it needs), or None."""
        return None

    def gradient_note(self, stages: Sequence[tuple[str, Defense]]) -> str | None:
        """How this threat approximates the gradient of some of ``stages`` (named stages), for labels; None: it does not."""
        return None

    @final
    def craft(self, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float,
              *, lam: float | None = None, generator: torch.Generator | None = None) -> AttackResult:
        """Adversarial examples for ``x``; ``classifier`` is the attacked one (for a surrogate axis, the surrogate).

        ``stack`` is the defense stack (None: undefended); ``lam`` is given exactly
        when the threat has the ``lam`` axis.
        """
        name = type(self).__name__
        if lam is not None and Axis.LAM not in self.axes:
            raise InvalidInputError(f"lam applies to threats with a lambda axis (auxaware), not to {name}; leave it unset")
        if lam is None and Axis.LAM in self.axes:
            raise InvalidInputError(f"{name} has a lambda axis and needs lam in [0, 1] (e.g. --lam 0,0.5,1)")
        why = self.refuse_attack(attack)
        if why is not None:
            raise InvalidInputError(f"{why}, not {type(attack).__name__}")
        return self.run(attack, classifier, stack, x, y, eps, lam=lam, generator=generator)

    @abstractmethod
    def run(self, attack: Attack, classifier: Target, stack: Stack | None, x: torch.Tensor, y: torch.Tensor, eps: float, *,
            lam: float | None, generator: torch.Generator | None) -> AttackResult:
        """The threat's crafting, on inputs ``craft`` has checked."""
