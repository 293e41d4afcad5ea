"""The audit's jobs: four parts per (classifier, stack), each a job of kind ``audit`` with its own checks.

- ``declared`` (check a): probes on a few clean examples; no attack;
- ``traces`` (check b): the adaptive PGD's and APGD's adversarial sets, and
  the steps PGD records (APGD records none: only its success flags and its
  surrogate are read), each indicator the worse of the two attacks;
- ``sanity`` (check c): oblivious, adaptive (PGD and APGD), half-eps,
  unbounded, more-effort and Square adversarial sets, planned as ordinary
  craft jobs (cached, shared with the matrix where identical) and judged
  here; the orderings against the adaptive attack take, per example, the
  worse of PGD and APGD, those about one attack's own behaviour (eps,
  effort, the unbounded attack) PGD alone;
- ``binarization`` (check d): the binarization test, which runs its own attacks.

Accuracy is read as the evaluate jobs read it (``bench.predictions``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from attacks import ATTACKS
from attacks.threats import THREATS, craft
from attacks.threats.adaptive import DEFAULT_RELU_BETA, Selection
from attacks.threats.pipeline import DefendedPipeline, autograd_stage, identity_stage
from bench.auditing.binarization import binarization_test
from bench.auditing.declared import declared_checks
from bench.auditing.sanity import adaptive_vs_oblivious, blackbox_vs_whitebox, eps_monotone, more_effort, unbounded
from bench.auditing.traces import trace_checks, transfer_failure
from bench.auditing.verdicts import CheckResult, worst_per_check
from bench.choice import Choice
from bench.jobs import AuditTask
from bench.predictions import defended_predictions
from bench.run_context import AdvSet, RunContext
from defenses.stack import Stack


class Part(Choice):
    DECLARED = "declared"
    TRACES = "traces"
    SANITY = "sanity"
    BINARIZATION = "binarization"


class Role(Choice):
    """What an adversarial set of the audit is for."""

    OBLIVIOUS = "oblivious"
    ADAPTIVE = "adaptive"
    ADAPTIVE_APGD = "adaptive_apgd"  # absent when audit_params.apgd is false
    HALF_EPS = "half_eps"
    UNBOUNDED = "unbounded"
    EFFORT = "effort"
    SQUARE = "square"


#: The adversarial sets each part reads (those planned: ``Role.ADAPTIVE_APGD`` may not be).
PART_ROLES: dict[Part, tuple[Role, ...]] = {
    Part.DECLARED: (), Part.TRACES: (Role.ADAPTIVE, Role.ADAPTIVE_APGD), Part.BINARIZATION: (),
    Part.SANITY: (Role.OBLIVIOUS, Role.ADAPTIVE, Role.ADAPTIVE_APGD, Role.HALF_EPS, Role.UNBOUNDED, Role.EFFORT, Role.SQUARE),
}
#: Sets at the audit's eps, whose per-example flags join the stack's worst case.
WORST_ROLES = (Role.OBLIVIOUS, Role.ADAPTIVE, Role.ADAPTIVE_APGD, Role.EFFORT, Role.SQUARE)
#: The adaptive attacks at the audit's eps, by what the evidence calls them.
ADAPTIVE_ROLES = {Role.ADAPTIVE: "adaptive PGD", Role.ADAPTIVE_APGD: "adaptive APGD"}


def adaptive_flags(flags: dict[str, np.ndarray]) -> np.ndarray | None:
    """Per example: correct under every adaptive attack of the audit that ran (None: none did), keyed by role value."""
    found = [flags[role.value] for role in ADAPTIVE_ROLES if role.value in flags]
    if not found:
        return None
    m = min(len(f) for f in found)
    return np.logical_and.reduce([f[:m] for f in found])


def pack(flags: np.ndarray) -> str:
    return "".join("1" if f else "0" for f in flags)


def unpack(text: str) -> np.ndarray:
    return np.array([c == "1" for c in text], dtype=bool)


def _pipeline(model: torch.nn.Module, stack: Stack, threat: dict[str, Any]) -> DefendedPipeline:
    return DefendedPipeline(model, stack, threat.get("gradient", "auto"), threat.get("relu_beta", DEFAULT_RELU_BETA))


def _surrogate_correct(model: torch.nn.Module, pipeline: DefendedPipeline, x: torch.Tensor, y: torch.Tensor,
                       batch_size: int, device: torch.device) -> torch.Tensor | None:
    """Whether the classifier on the surrogate purification (what the gradient came from) is right; None: no surrogate."""
    if all(rule is autograd_stage for _, rule in pipeline.stages):
        return None

    def surrogate(z: torch.Tensor) -> torch.Tensor:
        for defense, rule in pipeline.stages:
            z = defense.purify(z) if rule is autograd_stage else z if rule is identity_stage else defense.unrolled_purify(z)
        return model(z)

    out = []
    for i in range(0, len(x), batch_size):
        with torch.enable_grad():  # an unrolled purification may take gradients inside
            out.append(surrogate(x[i : i + batch_size].to(device)).argmax(1).detach().cpu())
    return torch.cat(out) == y


def run_part(task: AuditTask, ctx: RunContext) -> tuple[list[CheckResult], dict[str, str]]:
    """The checks of ``task``, and the per-example correct flags (packed) of its sets at the audit's eps."""
    part = Part(task.part)
    model = ctx.classifier(task.classifier).model
    stack = ctx.stack(task.classifier, task.stack, task.seed)
    split = ctx.test_split(task.classifier.dataset, task.labels.n)
    params, threat = task.params, task.params["threat"]
    pipeline = _pipeline(model, stack, threat)
    generator = torch.Generator().manual_seed(task.seed + params["settings"]["seed_offset"])
    crafts = dict(task.crafts)
    note = THREATS.create(params["threat_base"], **threat).gradient_note(stack.stages)  # e.g. BPDA through a stage

    def advset(role: Role) -> AdvSet:
        """The role's set on the audit's examples (the matrix's own set, on more examples, may serve the audit)."""
        return ctx.advset(crafts[role.value]).head(task.labels.n)

    def correct(x_adv: torch.Tensor) -> np.ndarray:
        """Per example: correct on every draw of the stack (one for a deterministic stack), as the evaluate jobs count."""
        draws = [defended_predictions(model, stack, x_adv, task.batch_size, ctx.device, task.seed + draw)[0] == split.y
                 for draw in range(params["draws"])]
        return torch.stack(draws).all(0).numpy()

    if part is Part.DECLARED:
        probe_n = params["settings"]["probe_n"]
        x, y = split.x[:probe_n].to(ctx.device), split.y[:probe_n].to(ctx.device)
        return declared_checks(model, stack, pipeline, x, y, generator), {}
    if part is Part.TRACES:
        keeps_best = Selection.coerce(threat.get("select", Selection.BEST)) is Selection.BEST
        by_attack = []
        for role, name in ADAPTIVE_ROLES.items():
            if role.value not in crafts:
                continue
            adv = advset(role)
            flags = torch.from_numpy(correct(adv.x_adv))
            surrogate = _surrogate_correct(model, pipeline, adv.x_adv, split.y, task.batch_size, ctx.device)
            by_attack.append((f"{name}, {note}" if note else name,
                              [*trace_checks(adv.trace, adv.success, flags, keeps_best),
                               transfer_failure(surrogate, flags)]))
        return worst_per_check(by_attack), {}
    if part is Part.SANITY:
        flags = {role: correct(advset(role).x_adv) for role in PART_ROLES[Part.SANITY] if role.value in crafts}
        adaptive = adaptive_flags({role.value: f for role, f in flags.items()})
        names = " and ".join(name for role, name in ADAPTIVE_ROLES.items() if role in flags) + (f" ({note})" if note else "")
        settings, eps = params["settings"], params["eps"]
        checks = [unbounded(flags[Role.UNBOUNDED], 1.0 / params["classes"], settings["unbounded_eps"]),
                  eps_monotone([(eps / 2, flags[Role.HALF_EPS]), (eps, flags[Role.ADAPTIVE]),
                                (settings["unbounded_eps"], flags[Role.UNBOUNDED])]),
                  more_effort(flags[Role.ADAPTIVE], flags[Role.EFFORT], params["effort_steps"], settings["effort_restarts"]),
                  blackbox_vs_whitebox(flags[Role.SQUARE], adaptive & flags[Role.EFFORT], names),
                  adaptive_vs_oblivious(adaptive, flags[Role.OBLIVIOUS], names)]
        return checks, {role.value: pack(flags[role]) for role in WORST_ROLES if role in flags}
    return [_binarization(task, ctx, model, stack, split.x, split.y, generator)], {}


def _binarization(task: AuditTask, ctx: RunContext, model: torch.nn.Module, stack: Stack, x: torch.Tensor,
                  y: torch.Tensor, generator: torch.Generator) -> CheckResult:
    params = task.params
    n = params["settings"]["binarization_n"]
    attack = ATTACKS.create("pgd", **{**params["attack"], "restarts": 1})  # one readout per row: no restart subsets
    attack_generator = torch.Generator(device=ctx.device).manual_seed(task.seed)

    def run(binarized: torch.nn.Module, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return craft(params["threat_base"], attack, binarized, stack, xs, ys, params["eps"], generator=attack_generator,
                     **params["threat"]).x_adv

    return binarization_test(model, stack, x[:n].to(ctx.device), params["eps"], params["settings"]["binarization_inner"], run,
                             generator, task.batch_size)
