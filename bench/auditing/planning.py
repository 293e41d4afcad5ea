"""Planning the audit: per (classifier, stack) of an auditing block, its craft jobs and its four audit jobs.

The audit's attacks are the spec's PGD (its parameters, or the dataset's
preset) under the spec's ``adaptive`` threat (its variant parameters, if
any) at the attack's first eps, on the first ``audit_params.n`` test
examples, and beside it the spec's APGD (``audit_params.apgd``; CE unless the
spec's ``attack_params.apgd`` says otherwise) under the same threat at the
same eps, so that the audit's bound is the worst of two different
optimisers.  They are ordinary craft jobs, so an adversarial set the matrix
also asks for (same attack, threat, eps and n) is crafted once.  Where the
matrix crafts the audit's oblivious PGD, adaptive PGD or adaptive APGD on
more examples (its n), the audit reads that set's first examples instead of
crafting its own (``bench.auditing.parts``): each example's attack does not
depend on the others in its batch, so the audit judges the very examples the
matrix counts, at no cost.  The planner plans the audits after the matrix.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Protocol

from bench.auditing.parts import PART_ROLES, Part, Role
from bench.data.metadata import DatasetInfo
from bench.hashing import content_key
from bench.jobs import AttackRef, AuditLabels, AuditTask, ClassifierRef, Job, JobKind, StageRef, ThreatRef
from bench.spec import Spec


class Planner(Protocol):
    """What the audit uses of ``bench.plan.Planner`` (which calls ``plan_audit`` for each audited stack)."""

    spec: Spec
    seed: int  # of the jobs being planned

    def _attack(self, label: str, dataset: str) -> tuple[AttackRef, tuple[float, ...], dict[str, Any]]: ...

    def _craft(self, target: ClassifierRef, stack: tuple[StageRef, ...] | None, attack: AttackRef, code: dict[str, Any],
               threat: ThreatRef, version: str, eps: float, lam: float | None, n: int, consumer: str) -> Job: ...

    def _has_craft(self, target: ClassifierRef, stack: tuple[StageRef, ...] | None, attack: AttackRef, code: dict[str, Any],
                   threat: ThreatRef, version: str, eps: float, lam: float | None, n: int) -> bool: ...

    def _add(self, job: Job, consumer: str) -> Job: ...

    def _info(self, name: str) -> DatasetInfo: ...


#: Bump when a check changes what it concludes from the same inputs (it enters the audit jobs' keys).
VERSION = "3"
AUDIT_ATTACK = "pgd"
SECOND_ATTACK = "apgd"
SQUARE = "square"
#: The roles whose sets the matrix may craft as well: the audit reads the matrix's where it has them.
MATRIX_ROLES = frozenset({Role.OBLIVIOUS, Role.ADAPTIVE, Role.ADAPTIVE_APGD})


def plan_audit(planner: Planner, ref: ClassifierRef, name: str, stages: tuple[StageRef, ...], n_spec: int) -> None:
    """Add the audit of ``ref`` under the stack ``name`` to the planner's plan."""
    spec = planner.spec
    settings = spec.audit_params
    n = min(settings.n or n_spec, n_spec)
    pgd, eps_list, code = planner._attack(AUDIT_ATTACK, ref.dataset)
    eps = float(eps_list[0])
    adaptive = spec.components.threat("adaptive")
    effort_steps = pgd.params["steps"] * settings.effort_factor
    steps = settings.unbounded_steps
    variants = {
        Role.OBLIVIOUS: (pgd, code, ThreatRef("oblivious", "oblivious", {}), eps),
        Role.ADAPTIVE: (pgd, code, adaptive, eps),
        Role.HALF_EPS: (pgd, code, adaptive, eps / 2),
        Role.UNBOUNDED: (AttackRef(f"{AUDIT_ATTACK}-unbounded", pgd.base, {**pgd.params, "steps": steps,
                                                                            "step_size": 2.5 * settings.unbounded_eps / steps}),
                         code, adaptive, settings.unbounded_eps),
        Role.EFFORT: (AttackRef(f"{AUDIT_ATTACK}-effort", pgd.base, {**pgd.params, "steps": effort_steps,
                                                                      "restarts": settings.effort_restarts}),
                      code, adaptive, eps),
    }
    if settings.apgd:
        apgd, _, apgd_code = planner._attack(SECOND_ATTACK, ref.dataset)
        variants[Role.ADAPTIVE_APGD] = (apgd, apgd_code, adaptive, eps)
    square = AttackRef(SQUARE, SQUARE, {"n_queries": settings.square_queries})
    variants[Role.SQUARE] = (square, square.code, ThreatRef("blackbox", "blackbox", {}), eps)
    consumer = f"{ref.key}/{name}/audit"
    crafts: dict[Role, Job] = {}
    for role, (attack, attack_code, threat, role_eps) in variants.items():
        model = threat.instance
        target = (ref, stages if model.depends_on_stack else None, attack, attack_code, threat, model.VERSION, role_eps, None)
        shared = role in MATRIX_ROLES and n < n_spec and planner._has_craft(*target, n_spec)
        crafts[role] = planner._craft(*target, n_spec if shared else n, consumer=f"{consumer}/{role.value}")
    labels = AuditLabels(ref.dataset, ref.arch, ref.recipe, ref.seed, name, n)
    params = {"settings": settings.identity(), "eps": eps, "attack": dict(pgd.params), "threat": dict(adaptive.params), "threat_base": adaptive.model,
              "effort_steps": effort_steps, "classes": planner._info(ref.dataset).num_classes,
              "draws": spec.draws if any(s.randomized for s in stages) else 1}
    base_deps = (f"train-{ref.key}",) + tuple(s.fit_job for s in stages if s.needs_fit)
    for part in Part:
        roles = tuple(role for role in PART_ROLES[part] if role in crafts)
        used = tuple((role.value, crafts[role].task) for role in roles)
        key = "audit-" + content_key({"kind": "audit", "part": part.value, "version": VERSION, "classifier": ref.key,
                                      "stack": [s.key for s in stages], "crafts": {r: t.key for r, t in used},
                                      "params": params, "labels": asdict(labels), "seed": planner.seed,
                                      "batch_size": spec.batch_size})
        task = AuditTask(part.value, ref, stages, labels, used, params, planner.seed, spec.batch_size)
        deps = base_deps + tuple(crafts[role].key for role in roles)
        planner._add(Job(key, JobKind.AUDIT, f"audit {part.value} | {name} | {ref.label()}", deps, task), key)
