"""The four kinds of job of a plan and what they carry.

Jobs are picklable data: an executor may run them in this process or ship
them to a Ray worker.  Each job's ``key`` hashes everything that determines
its output, so a key seen twice is one job (reuse) and a key done in the
results store is never run again (resume).

An attack or threat reference builds its object from its parameters on first
use (spec validation and the planner use it at once) and carries it, so every
job that runs it uses that object: both keep only their parameters (``with_*``
methods return copies), so one object serves them all.  A defense is fitted,
so a run builds a fresh one for each use (``bench.defense_objects.new_defense``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from enum import Enum
from typing import Any

import numpy as np

from attacks import ATTACKS, Attack
from attacks.threats import ThreatModel, threat_model
from bench.classifiers import ClassifierId
from bench.external_classifiers import ExternalClassifier

#: The pseudo-attack of the unperturbed column that every stack gets.
CLEAN = "clean"


class JobKind(str, Enum):
    TRAIN = "train"  # base classifier -> checkpoint (cache kind "classifiers")
    FIT = "fit"  # defense stage on a classifier -> state (cache kind "defenses")
    CRAFT = "craft"  # attack under a threat model -> adversarial set (cache kind "advsets")
    EVALUATE = "evaluate"  # adversarial set (or clean inputs) through a stack -> correct flags
    AUDIT = "audit"  # checks of one (classifier, stack) -> verdict rows (bench.auditing)


class Status(str, Enum):
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # a job it depends on failed


@dataclass(frozen=True)
class ClassifierRef:
    """A base classifier: its identity, recipe label (a variant name) and cache key.

    A classifier trained elsewhere has ``external`` set; its ``recipe`` is then
    its label in the spec and ``recipe_base`` where it came from (checkpoint, module).
    """

    dataset: str
    arch: str
    recipe: str  # the label in the spec
    recipe_base: str  # the registered recipe
    recipe_params: dict[str, Any]
    seed: int
    key: str
    external: ExternalClassifier | None = None

    def cid(self) -> ClassifierId:
        return ClassifierId(self.dataset, self.arch, self.recipe_base, self.seed, dict(self.recipe_params))

    def label(self) -> str:
        return f"{self.dataset}/{self.arch}/{self.recipe}/seed{self.seed}"


@dataclass(frozen=True)
class StageRef:
    """One defense stage of a stack, on one classifier.

    ``key`` hashes everything that determines the stage's outputs; ``fit_key``
    only what determines its fitted state, so variants differing in
    inference-time parameters (``Defense.INFERENCE_PARAMS``) share one fit.
    """

    label: str
    base: str
    params: dict[str, Any]
    key: str
    needs_fit: bool
    fit_key: str
    instance: Any = field(default=None, compare=False, repr=False)  # a Defense object given from Python (copied before use)
    randomized: bool = False  # draws fresh randomness at each purification

    @property
    def fit_job(self) -> str:
        return f"fit-{self.fit_key}"


@dataclass(frozen=True)
class AttackRef:
    """An attack: its label, registered ``base`` and parameters, and ``instance``, the attack built from them."""

    label: str
    base: str
    params: dict[str, Any]  # with the dataset's preset filled in (the spec's own references have none)

    @cached_property
    def instance(self) -> Attack:
        return ATTACKS.create(self.base, **self.params)

    @property
    def code(self) -> dict[str, Any]:
        """The attack's class and ``VERSION``: what of its code enters adversarial-set keys."""
        kind = type(self.instance)
        return {"type": f"{kind.__module__}.{kind.__qualname__}", "version": getattr(self.instance, "VERSION", None)}


@dataclass(frozen=True)
class ThreatRef:
    """A threat model: its label, registered ``model`` and parameters, and ``instance``, the threat built from them."""

    label: str
    model: str  # the registered threat (attacks.threats.THREATS)
    params: dict[str, Any]  # its constructor's keywords (adaptive: gradient, eot_samples, ...)

    @cached_property
    def instance(self) -> ThreatModel:
        return threat_model(self.model, **self.params)


@dataclass(frozen=True)
class TrainTask:
    classifier: ClassifierRef


@dataclass(frozen=True)
class FitTask:
    classifier: ClassifierRef
    stage: StageRef
    seed: int


@dataclass(frozen=True)
class CraftTask:
    key: str  # of the adversarial set in the artifact cache
    target: ClassifierRef  # the attacked classifier (for transfer, the surrogate)
    stack: tuple[StageRef, ...] | None  # None: the set does not depend on a stack
    attack: AttackRef
    threat: ThreatRef
    eps: float
    lam: float | None
    seed: int
    n: int
    batch_size: int


@dataclass(frozen=True)
class ResultLabels:
    """How a result is named in the store and in exports."""

    dataset: str
    arch: str
    recipe: str
    seed: int
    defense: str
    attack: str
    attack_base: str
    threat: str
    threat_model: str
    eps: float
    lam: float | None
    source: str | None
    source_kind: str | None  # S=T or S!=T
    source_classifier: str | None
    n: int


#: The label columns of a result, in the store's results table, its plan and the exports.
LABEL_COLUMNS = tuple(f.name for f in fields(ResultLabels))


@dataclass(frozen=True)
class EvaluateTask:
    classifier: ClassifierRef
    stack: tuple[StageRef, ...]
    advset: CraftTask | None  # None: clean inputs
    labels: ResultLabels
    seed: int
    batch_size: int
    draws: int = 1  # purifications of a randomized stack; an example is correct only if correct on every draw


@dataclass(frozen=True)
class AuditLabels:
    """How an audit row is named in the store and in exports."""

    dataset: str
    arch: str
    recipe: str
    seed: int
    defense: str
    n: int


@dataclass(frozen=True)
class AuditTask:
    """One part of the audit of a (classifier, stack): its checks read the adversarial sets ``crafts`` (by role)."""

    part: str  # a bench.auditing.parts.Part value
    classifier: ClassifierRef
    stack: tuple[StageRef, ...]
    labels: AuditLabels
    crafts: tuple[tuple[str, CraftTask], ...]
    params: dict[str, Any]  # the audit settings, the attack's eps and the classes, as the checks read them
    seed: int
    batch_size: int


Task = TrainTask | FitTask | CraftTask | EvaluateTask | AuditTask


@dataclass(frozen=True)
class Job:
    key: str
    kind: JobKind
    label: str
    deps: tuple[str, ...]
    task: Task


@dataclass(frozen=True)
class EvalResult:
    """Per-example flags after the defense (``correct``: on every draw) and without it (``correct_undefended``)."""

    correct: np.ndarray  # bool (n,)
    correct_undefended: np.ndarray  # bool (n,)
    purify_seconds: float
    correct_draws: np.ndarray | None = None  # bool (draws, n) of a randomized stack evaluated over several draws
    max_perturbation: float | None = None  # the largest ||x_adv - x|| in the attack's norm (None: clean)


@dataclass(frozen=True)
class Outcome:
    key: str
    status: Status
    seconds: float
    started: str
    finished: str
    device: str
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    result: EvalResult | None = None
