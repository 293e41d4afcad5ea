"""Per-step records of an iterative attack: what the indicators of attack failure are read from.

The engine already evaluates the target on every iterate for its loss (and,
with ``keep_best``, keeps the outputs); recording the per-example loss, the
margin (best other logit minus the true one; > 0 when the target errs) and
whether the input gradient was usable costs a few small copies per step.
Only each batch's first restart is recorded: it covers every example.  A
trace keeps the last run of the engine it was given to: an adaptive attack
first runs the same attack against the classifier alone (its oblivious
start), then against the pipeline, and the trace holds the latter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from attacks.losses import margins

#: Tensor names of a trace inside an adversarial-set artifact.
TRACE_TENSORS = ("trace_loss", "trace_margin", "trace_grad_unavailable")


@dataclass
class AttackTrace:
    """Filled by ``attacks.iterative.iterate``; one column per example, one row per step."""

    loss: list[torch.Tensor] = field(default_factory=list)  # per step: (N,)
    margin: list[torch.Tensor] = field(default_factory=list)  # per step: (N,)
    grad_unavailable: list[torch.Tensor] = field(default_factory=list)  # per step: (N,) bool, zero/NaN/inf gradient

    def begin(self) -> None:
        """Forget what an earlier run recorded: the trace is of the run starting now."""
        self.loss.clear()
        self.margin.clear()
        self.grad_unavailable.clear()

    def record(self, loss: torch.Tensor, logits: torch.Tensor | None, y: torch.Tensor, grad: torch.Tensor) -> None:
        flat = grad.detach().flatten(1)
        self.loss.append(loss.detach().float().cpu())
        self.margin.append(margins(logits, y).float().cpu() if logits is not None else torch.full_like(self.loss[-1], float("nan")))
        self.grad_unavailable.append(((flat == 0).all(1) | ~torch.isfinite(flat).all(1)).cpu())

    @property
    def empty(self) -> bool:
        return not self.loss

    def tensors(self) -> dict[str, torch.Tensor]:
        """(steps, N) tensors under ``TRACE_TENSORS``, for saving beside the adversarial set."""
        return {"trace_loss": torch.stack(self.loss), "trace_margin": torch.stack(self.margin),
                "trace_grad_unavailable": torch.stack(self.grad_unavailable).to(torch.uint8)}


def concat_traces(traces: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The per-batch trace tensors joined along the examples (empty when some batch has none or steps differ)."""
    if not traces or any(not t for t in traces) or len({t["trace_loss"].shape[0] for t in traces}) != 1:
        return {}
    return {name: torch.cat([t[name] for t in traces], dim=1) for name in TRACE_TENSORS}
