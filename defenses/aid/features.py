"""h(x): the classifier's named taps, globally average-pooled (section 3.1).

Pooling makes D small and translation invariant; a tap that is already a
vector (a fully connected layer, ``(N, F)``) is passed on unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from bench.models.taps import forward_with_taps


def global_average_pool(h: torch.Tensor) -> torch.Tensor:
    """``(N, C, ...)`` -> ``(N, C)``: the mean over every spatial axis (identity for ``(N, C)``)."""
    return h.flatten(2).mean(2) if h.ndim > 2 else h


def pooled_taps(classifier: nn.Module, x: torch.Tensor, taps: Sequence[str]) -> list[torch.Tensor]:
    """The pooled activations of ``taps`` for inputs ``x``, in the order given."""
    _, outputs = forward_with_taps(classifier, x, taps)
    return [global_average_pool(outputs[name]) for name in taps]


def classifier_dtype(classifier: nn.Module) -> torch.dtype:
    """The floating type the classifier computes in (its first parameter's; float32 without parameters)."""
    parameter = next(classifier.parameters(), None)
    return parameter.dtype if parameter is not None else torch.float32


def tap_widths(classifier: nn.Module, image_shape: Sequence[int], taps: Sequence[str], device: torch.device) -> list[int]:
    """The pooled feature size of each tap, read from one forward pass of a blank image."""
    blank = torch.zeros(1, *image_shape, device=device, dtype=classifier_dtype(classifier))
    with torch.no_grad():
        return [h.shape[1] for h in pooled_taps(classifier, blank, taps)]
