"""Check (a): what each stage declares against what the stack measurably does.

AutoAttack's ``checks.py`` warnings as verdicts.  The probes
(``defenses.probes``) measure; this module decides what the numbers mean for
an evaluation: an undeclared randomness means attacks ran without EOT, an
unusable gradient through a stage declared differentiable means gradient
attacks followed nothing (so adaptive attacks need BPDA there), a gradient
whose small step does not raise the real loss is shattered (it exists but
says nothing about the function, so the attack wanders), a
batch-dependent output means an example's verdict depends on its
batch-mates, and probabilities in place of logits flatten every loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attacks.threats.pipeline import DefendedPipeline
from bench.auditing.verdicts import CheckResult, Verdict, graded, skipped
from defenses.probes import probe_batch_dependence, probe_gradients, probe_probabilities, probe_randomness
from defenses.stack import Stack

# Set a priori (ours), none calibrated on results; the flag probes' own tolerance is defenses.probes.TOLERANCE.
#: Shares of examples with an unusable gradient: any warns (AutoAttack's checks.py warns on any zero gradient);
#: above 10% the gradient attacks had nothing to follow on more than a few examples, which fails.
GRADIENT_FAIL, GRADIENT_WARN = 0.10, 0.0
#: The L-inf step (pixels) along the gradient's sign that must raise the real loss (ours): 1/60 of mnist's eps 0.3,
#: about a sixth of cifar's 8/255, small enough for the first-order model of a smooth pipeline to hold.
DIRECTION_STEP = 0.005
#: Shares of examples on which that step does not raise the loss: 5% warns (ReLU kinks, saturated examples); above
#: 25%, a quarter of the gradients point nowhere useful, which fails.
DIRECTION_FAIL, DIRECTION_WARN = 0.25, 0.05


def declared_checks(classifier: nn.Module, stack: Stack, pipeline: DefendedPipeline, x: torch.Tensor, y: torch.Tensor,
                    generator: torch.Generator) -> list[CheckResult]:
    """The four flag checks on the examples ``x`` (labels ``y``); ``pipeline`` is C o purify as adaptive attacks see it."""
    return [_randomness(stack, x, generator), _gradients(classifier, stack, pipeline, x, y, generator),
            _direction(classifier, stack, x, y, generator), _batch(stack, x, generator), _logits(classifier, x)]


def _stage_names(stack: Stack, flag: str, value: bool) -> str:
    return ", ".join(name for name, d in stack.stages if getattr(d, flag) is value)


def _randomness(stack: Stack, x: torch.Tensor, generator: torch.Generator) -> CheckResult:
    probe = probe_randomness(stack.purify, x, generator=generator)
    value, declared = probe.max_abs_difference, stack.randomized
    if probe.randomized and not declared:
        return CheckResult("randomness", Verdict.FAIL, value, probe.tolerance,
                           f"two identical purifications differ by up to {value:.3g} while no stage declares randomized, so "
                           "adaptive attacks ran without EOT; declare randomized = True on the stage that draws noise")
    if declared and not probe.randomized:
        return CheckResult("randomness", Verdict.WARN, value, probe.tolerance,
                           f"stages {_stage_names(stack, 'randomized', True)} declare randomized but two purifications agree "
                           f"(max difference {value:.3g}); EOT costs time for nothing unless the noise is rare")
    state = "differ as declared" if declared else "agree, as declared"
    return CheckResult("randomness", Verdict.PASS, value, probe.tolerance, f"two identical purifications {state} "
                       f"(max difference {value:.3g})")


def _purification(pipeline: DefendedPipeline):  # -> Callable[[Tensor], Tensor]
    """The stack as adaptive attacks differentiate it: autograd, unrolled or straight-through per stage."""

    def purify(x: torch.Tensor) -> torch.Tensor:
        for defense, rule in pipeline.stages:
            x = rule(defense, x)
        return x

    return purify


def _gradients(classifier: nn.Module, stack: Stack, pipeline: DefendedPipeline, x: torch.Tensor, y: torch.Tensor,
               generator: torch.Generator) -> CheckResult:
    claimed = _stage_names(stack, "differentiable", True)
    if not claimed:
        return skipped("gradients", "no stage declares differentiable: adaptive attacks use BPDA or unrolled gradients "
                                    "through every stage, so there is no autograd claim to test")
    probe = probe_gradients(_purification(pipeline), classifier, x, y, generator=generator)
    verdict = graded(probe.unavailable, GRADIENT_FAIL, GRADIENT_WARN)
    measured = (f"the input gradient of the pipeline's loss is zero for {probe.zero:.0%}, NaN for {probe.nan:.0%} and "
                f"infinite for {probe.infinite:.0%} of {probe.n} examples")
    if verdict is Verdict.PASS:
        return CheckResult("gradients", verdict, probe.unavailable, GRADIENT_FAIL, f"{measured}, through stages declared "
                           f"differentiable ({claimed})")
    return CheckResult("gradients", verdict, probe.unavailable, GRADIENT_FAIL,
                       f"{measured} although stages {claimed} declare differentiable, so gradient attacks had nothing to "
                       "follow; declare differentiable = False (adaptive attacks then use BPDA) or offer unrolled_purify")


def _losses(classifier: nn.Module, stack: Stack, x: torch.Tensor, y: torch.Tensor, seed: int) -> torch.Tensor:
    """Per-example CE of the real pipeline, the randomized stages' draws seeded with ``seed`` (the caller's state kept)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return F.cross_entropy(classifier(stack.purify(x)), y, reduction="none")


def _direction(classifier: nn.Module, stack: Stack, x: torch.Tensor, y: torch.Tensor,
               generator: torch.Generator) -> CheckResult:
    """A small step along the sign of the autograd gradient must raise the real loss (else the gradient is shattered)."""
    if not stack.differentiable:
        return skipped("gradient_direction", "a stage is not differentiable: its BPDA or unrolled gradient is a surrogate, "
                                             "not meant to predict the real loss")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    x0 = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = _losses(classifier, stack, x0, y, seed)
        grad = torch.autograd.grad(loss.sum(), x0)[0] if loss.requires_grad else torch.zeros_like(x0)
    flat = grad.flatten(1)
    usable = (flat != 0).any(1) & torch.isfinite(flat).all(1)
    if not usable.any():
        return skipped("gradient_direction", "no example has a usable gradient (the gradients check says why)")
    with torch.no_grad():
        stepped = _losses(classifier, stack, (x + DIRECTION_STEP * grad.sign()).clamp(0, 1), y, seed)
    flat_or_down = (stepped <= loss.detach()) & usable
    share = float(flat_or_down.sum()) / float(usable.sum())
    verdict = graded(share, DIRECTION_FAIL, DIRECTION_WARN)
    text = (f"a step of {DIRECTION_STEP:g} along the input gradient's sign leaves the real loss flat or lower on {share:.0%} "
            f"of {int(usable.sum())} examples")
    if verdict is not Verdict.PASS:
        text += ("; the gradient through the stages declared differentiable is shattered (it does not describe the "
                 "function): declare differentiable = False for BPDA, or offer a faithful unrolled_purify")
    return CheckResult("gradient_direction", verdict, share, DIRECTION_FAIL, text)


def _batch(stack: Stack, x: torch.Tensor, generator: torch.Generator) -> CheckResult:
    if len(x) < 2:
        return skipped("batch_independence", "needs at least 2 examples; raise audit_params.probe_n")
    probe = probe_batch_dependence(stack.purify, x, generator=generator)
    value = probe.max_abs_difference
    declared = [name for name, defense in stack.stages if defense.batch_dependent]
    if probe.batch_dependent and declared:
        # Declared, so not a false claim; but every accuracy then holds only for the batches it was measured in.
        return CheckResult("batch_independence", Verdict.WARN, value, probe.tolerance,
                           f"an example's purification moves by up to {value:.3g} when the other examples of its batch change, "
                           f"as {', '.join(declared)} declares (batch_dependent); its accuracies hold for the evaluation's "
                           "batch composition only, and an attacker who controls batch-mates is not modelled")
    if probe.batch_dependent:
        return CheckResult("batch_independence", Verdict.FAIL, value, probe.tolerance,
                           f"an example's purification moves by up to {value:.3g} when the other examples of its batch change, "
                           "so its verdict depends on its batch-mates; purify each example on its own (per-example statistics)")
    return CheckResult("batch_independence", Verdict.PASS, value, probe.tolerance,
                       f"an example's purification stays within {value:.3g} when the rest of its batch is replaced")


def _logits(classifier: nn.Module, x: torch.Tensor) -> CheckResult:
    probe = probe_probabilities(classifier, x)
    if probe.probabilities:
        return CheckResult("logits", Verdict.FAIL, probe.share, 1.0,
                           "the classifier returns probabilities (non-negative rows summing to 1), which flatten the "
                           "attacks' losses; return logits (drop the final softmax)")
    return CheckResult("logits", Verdict.PASS, probe.share, 1.0,
                       f"the classifier returns logits ({probe.share:.0%} of rows look like probabilities)")
