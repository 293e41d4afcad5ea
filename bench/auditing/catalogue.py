"""Every check of the audit and what it tests, in one sentence each (the report's audit section shows them)."""

from __future__ import annotations

from bench.auditing.verdicts import OVERALL

CHECKS: dict[str, str] = {
    "randomness": "Two identical purifications must agree unless a stage declares randomized (else attacks ran without EOT).",
    "gradients": "The pipeline's input gradient must be usable (not zero, NaN or infinite) through stages declared differentiable.",
    "gradient_direction": "A small step along the input gradient must raise the real pipeline's loss (else the gradient is shattered).",
    "batch_independence": "An example's purification must not change when the other examples of its batch do.",
    "logits": "The classifier must return logits, not probabilities, which flatten the attacks' losses.",
    "silent_success": "The attack must not see the pipeline err on examples the evaluation then finds correct.",
    "incomplete_optimisation": "The adaptive attack's best loss must have stopped rising by its last steps.",
    "non_convergence": "The adaptive attack's loss must not end far below the best it reached.",
    "unavailable_gradients": "The adaptive attack's first input gradient must be usable.",
    "transfer_failure": "Examples that fool the gradient's differentiable surrogate (BPDA, unrolled) must fool the real pipeline.",
    "unbounded": "An attack allowed the whole image range must bring accuracy to chance or below.",
    "eps_monotone": "Robust accuracy must not rise with eps.",
    "more_effort": "More steps and restarts must not lower accuracy beyond its interval (else the default attack is under-optimised).",
    "blackbox_vs_whitebox": "A black-box attack (Square) must not beat the white-box adaptive one.",
    "adaptive_vs_oblivious": "The adaptive attack must not leave more accuracy than the oblivious one.",
    "transfer_vs_adaptive": "A transferred attack must not beat the adaptive one.",
    "binarization": "The adaptive attack must solve binarized test problems known to have an adversarial example (Zimmermann et al.).",
    OVERALL: "The stack's verdict: the worst-case robust accuracy it supports, or the failed checks and their remedies.",
}
