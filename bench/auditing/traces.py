"""Check (b): indicators of attack failure (Pintor et al. 2022), read from the adaptive attack's recorded steps.

The trace of the adaptive PGD (``attacks.trace``: per step and example the
loss, the margin of the real pipeline, and whether the input gradient was
usable) is compared with how the evaluation judges the returned examples:

- silent success: the attack saw the pipeline err (a positive margin at some
  step, or its own success flag) on an example the evaluation finds correct;
- incomplete optimisation: on examples still correct, the best loss so far
  still rose over the last tenth of the steps by more than a tenth of its
  whole rise (a concave, converged curve gains less there), so more steps
  would have gone further;
- non-convergence: on examples still correct, the loss ended far below the
  best it reached (noisy gradients or a step too large); an attack that
  returns its best iterate loses optimisation to this, not correctness, so
  there it is a warning at most;
- unavailable gradients: the first step's input gradient was zero, NaN or infinite;
- transfer failure: the differentiable surrogate the gradient came from
  (BPDA's identity or the unrolled purification) is fooled where the real
  pipeline is not.
"""

from __future__ import annotations

import math

import torch

from bench.auditing.verdicts import CheckResult, Verdict, graded, skipped

# Every threshold here is set a priori, none calibrated on results.  Pintor et al. (2022) flag an indicator per
# example and leave the share at which a whole evaluation fails open; the shares below are ours, each one line on
# what it tolerates.
#: Silent success: a deterministic pipeline gives 0; 5% tolerates 1 example in 20 whose margin sits at round-off.
SILENT_FAIL = 0.05
#: Incomplete optimisation: above 5% warns (a few slow examples); above 20%, one unbroken example in five was still
#: climbing at the end, which fails (ours, a priori).
INCOMPLETE_FAIL, INCOMPLETE_WARN = 0.20, 0.05
#: Non-convergence: 10% warns; a majority (50%) ending far below their best means the step or the noise dominates.
NONCONVERGENCE_FAIL, NONCONVERGENCE_WARN = 0.50, 0.10
#: Unavailable gradients: Pintor et al.'s indicator is any such example; 10% tolerates a few saturated examples.
UNAVAILABLE_FAIL = 0.10
#: Transfer failure: 5% warns, 20% (one surrogate success in five not carrying over) fails, as for optimisation.
TRANSFER_FAIL, TRANSFER_WARN = 0.20, 0.05
#: Loss changes below this share of an example's loss range over the run are read as flat (ours: 5%, a round tolerance).
FLAT = 0.05
#: Share of its whole rise the best loss may still gain over the last tenth of the steps (a linear climb gains 0.1).
LATE_GAIN = 0.10
TRACE_CHECKS = ("silent_success", "incomplete_optimisation", "non_convergence", "unavailable_gradients")


def _tail(steps: int) -> int:
    """Steps of the window the end of a trace is judged on: the last tenth, at least one."""
    return max(1, steps // 10)


def trace_checks(trace: dict[str, torch.Tensor], attack_success: torch.Tensor, correct: torch.Tensor,
                 keeps_best: bool = False) -> list[CheckResult]:
    """The four trace indicators; ``correct``: the evaluation's flags on the returned examples.

    ``keeps_best``: the attack returned each example's best iterate (the adaptive threat's ``select="best"``).
    """
    n, correct = len(correct), correct.bool()
    if not trace or trace["trace_loss"].shape[1] != n:
        why = (f"the trace covers {trace['trace_loss'].shape[1]} examples, the evaluation {n}" if trace else
               "the attack records no per-step trace (not the iterative engine, or an adversarial set cached before "
               "traces were recorded: clear it to craft it again)")
        return [_silent_success(attack_success.bool(), correct, "its success flags"),
                *(skipped(check, why) for check in TRACE_CHECKS[1:])]
    loss, margin = trace["trace_loss"].double(), trace["trace_margin"].double()
    unavailable = trace["trace_grad_unavailable"].bool()
    steps = loss.shape[0]
    checks = [_silent_success((margin > 0).any(0) | attack_success.bool(), correct, "a positive margin at some step")]
    span = (loss.amax(0) - loss.amin(0)).clamp_min(1e-12)
    tail = _tail(steps)
    if steps >= 2 * tail and correct.any():
        best = loss.cummax(0).values
        rise = (best[-1] - best[-tail - 1]) / (best[-1] - best[0]).clamp_min(1e-12)
        incomplete = float((rise[correct] > LATE_GAIN).double().mean())
        checks.append(CheckResult("incomplete_optimisation", graded(incomplete, INCOMPLETE_FAIL, INCOMPLETE_WARN), incomplete,
                                  INCOMPLETE_FAIL, f"the best loss was still rising over the last {tail} of {steps} steps on "
                                  f"{incomplete:.0%} of the examples the attack did not break"
                                  + ("; run more steps (attack_params.pgd.steps)" if incomplete > INCOMPLETE_WARN else "")))
        fallen = (loss.amax(0) - loss[-1]) / span
        wander = float((fallen[correct] > 2 * FLAT).double().mean())
        verdict = graded(wander, NONCONVERGENCE_FAIL, NONCONVERGENCE_WARN)
        if keeps_best and verdict is Verdict.FAIL:
            verdict = Verdict.WARN
        kept = (" (a warning only: the attack returns each example's best iterate, so a loss that falls after its best "
                "wastes steps but leaves no weaker point to be evaluated)") if keeps_best else ""
        checks.append(CheckResult("non_convergence", verdict, wander, NONCONVERGENCE_FAIL,
                                  f"on {wander:.0%} of the examples the attack did not break, the final loss lies well below "
                                  f"the best it reached{kept}"
                                  + ("; use a smaller step or more EOT samples" if wander > NONCONVERGENCE_WARN else "")))
    else:
        why = "every example was broken, so there is no unfinished optimisation to judge" if not correct.any() else \
              f"{steps} steps are too few to judge the end of the trace"
        checks += [skipped("incomplete_optimisation", why), skipped("non_convergence", why)]
    first = float(unavailable[0].double().mean()) if n else math.nan
    checks.append(CheckResult("unavailable_gradients", graded(first, UNAVAILABLE_FAIL), first, UNAVAILABLE_FAIL,
                              f"the attack's first input gradient was zero, NaN or infinite for {first:.0%} of the examples"
                              + ("; the gradient path is broken: use BPDA (differentiable = False) or unrolled_purify"
                                 if first > 0 else "")))
    return checks


def _silent_success(seen_wrong: torch.Tensor, correct: torch.Tensor, how: str) -> CheckResult:
    silent = float((seen_wrong & correct).double().mean()) if len(correct) else math.nan
    return CheckResult("silent_success", graded(silent, SILENT_FAIL), silent, SILENT_FAIL,
                       f"the attack saw the pipeline err ({how}) on {silent:.0%} of the examples the evaluation finds "
                       "correct" + ("; declare randomized = True and evaluate over several draws, or raise eot_samples"
                                    if silent > 0 else ""))


def transfer_failure(surrogate_correct: torch.Tensor | None, correct: torch.Tensor) -> CheckResult:
    """Share of examples fooling the surrogate the gradient came from but not the real pipeline."""
    if surrogate_correct is None:
        return skipped("transfer_failure", "every stage is differentiable: the gradient is the real pipeline's, no surrogate")
    share = float((~surrogate_correct.bool() & correct.bool()).double().mean()) if len(correct) else math.nan
    verdict = graded(share, TRANSFER_FAIL, TRANSFER_WARN)
    remedy = ("; the surrogate approximates the purification poorly: offer unrolled_purify or a closer BPDA approximation"
              if verdict is not Verdict.PASS else "")
    return CheckResult("transfer_failure", verdict, share, TRANSFER_FAIL,
                       f"{share:.0%} of the adversarial examples fool the differentiable surrogate of the purification but "
                       f"not the real pipeline{remedy}")
