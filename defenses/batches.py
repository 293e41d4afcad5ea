"""The mini-batch order shared by the defenses' training loops."""

from __future__ import annotations

from typing import Iterator

import torch
from tqdm.auto import tqdm

from bench.job_progress import JobProgress


def shuffled_batches(size: int, batch_size: int, generator: torch.Generator, *, desc: str, progress: bool,
                     report: JobProgress | None = None, epoch: tuple[int, int] = (0, 1)) -> Iterator[torch.Tensor]:
    """Index tensors covering ``range(size)`` once, in an order drawn from ``generator`` (one permutation per call).

    Call it once per epoch: the permutation is drawn when iteration starts, so a
    training loop's other draws from ``generator`` come after it, as they would inline.
    ``report`` hears the epoch (``epoch``: this one's index and the count) and each finished batch.
    """
    report = report or JobProgress()
    order = torch.randperm(size, generator=generator)
    batches = -(-size // batch_size)
    with report.part("epoch", *epoch):
        for b, start in enumerate(tqdm(range(0, size, batch_size), desc=desc, disable=not progress, leave=False)):
            yield order[start : start + batch_size]
            report.tick("batch", b + 1, batches)
