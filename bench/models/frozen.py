"""Running a classifier as a fixed function: eval mode, no parameter gradients, all restored afterwards.

Defenses read the frozen classifier while they train and purify, and
adversarial training attacks the model it is training: batch-norm statistics
must not move and the caller's ``requires_grad`` flags and mode must come
back as they were, since the same classifier object serves every other
defense and attack.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)
        model.train(was_training)
