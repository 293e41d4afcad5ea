"""Labels a classifier, or a defense stack then the classifier, gives a set of inputs: what every evaluation counts.

The evaluate jobs and the audit's checks read accuracy through these two
functions, so an audit sees an adversarial set exactly as the results table does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch
from torch import nn

from bench.errors import InvalidInputError
from bench.job_progress import JobProgress
from defenses.timing import BatchClock

if TYPE_CHECKING:
    from defenses.stack import Stack


def check_finite_logits(logits: torch.Tensor, what: str) -> torch.Tensor:
    """``logits`` if all finite; NaN would silently count as class 0 under argmax, so it is an error naming the cause."""
    bad = int((~torch.isfinite(logits)).any(dim=-1).sum()) if logits.is_floating_point() else 0
    if bad:
        raise InvalidInputError(f"{what}: non-finite logits (NaN or inf) for {bad} of {len(logits)} inputs; its weights hold "
                                "NaN (training diverged, or a broken checkpoint), its inputs do (a purifier's output), "
                                "or it overflows")
    return logits


def predict_labels(model: nn.Module, x: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """``model``'s predicted labels for ``x``, in batches on ``device``; returned on the CPU.  Non-finite logits are an error."""
    with torch.no_grad():
        return torch.cat([check_finite_logits(model(x[i : i + batch_size].to(device)), "the classifier").argmax(1).cpu()
                          for i in range(0, len(x), batch_size)])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def purified(stack: Stack, x: torch.Tensor, batch_size: int, device: torch.device, seed: int,
             report: JobProgress | None = None) -> tuple[torch.Tensor, BatchClock]:
    """``stack.purify(x)`` in batches on ``device`` (returned on the CPU) and the wall and CPU seconds it took.

    torch's generator is seeded with ``seed`` first, so randomized stages draw
    the same noise in every run (and the report's examples show the draw an
    evaluation counted).  ``report`` hears each purified batch.
    """
    report = report or JobProgress()
    total = -(-len(x) // batch_size)
    torch.manual_seed(seed)
    _sync(device)
    begin, cpu = time.perf_counter(), time.process_time()
    batches = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            batches.append(stack.purify(x[i : i + batch_size].to(device)).cpu())
            report.tick("batch", len(batches), total)
    _sync(device)
    clock = BatchClock(len(x), min(batch_size, len(x)), time.perf_counter() - begin, time.process_time() - cpu)
    return torch.cat(batches), clock


def defended_predictions(model: nn.Module, stack: Stack, x: torch.Tensor, batch_size: int, device: torch.device,
                         seed: int, report: JobProgress | None = None) -> tuple[torch.Tensor, BatchClock]:
    """Labels of ``model(stack.purify(x))`` and the time purification took (``purified`` seeds the draw)."""
    images, clock = purified(stack, x, batch_size, device, seed, report)
    return predict_labels(model, images, batch_size, device), clock
