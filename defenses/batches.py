"""The mini-batch order shared by the defenses' training loops."""

from __future__ import annotations

from typing import Iterator

import torch
from tqdm.auto import tqdm


def shuffled_batches(size: int, batch_size: int, generator: torch.Generator, *, desc: str,
                     progress: bool) -> Iterator[torch.Tensor]:
    """Index tensors covering ``range(size)`` once, in an order drawn from ``generator`` (one permutation per call).

    Call it once per epoch: the permutation is drawn when iteration starts, so a
    training loop's other draws from ``generator`` come after it, as they would inline.
    """
    order = torch.randperm(size, generator=generator)
    for start in tqdm(range(0, size, batch_size), desc=desc, disable=not progress, leave=False):
        yield order[start : start + batch_size]
