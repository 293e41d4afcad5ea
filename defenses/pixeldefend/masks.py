"""Masked convolutions: the autoregressive ordering of a PixelCNN (van den Oord et al., 2016).

Sub-pixels are ordered in raster order, and within a pixel channel by channel
(R before G before B).  Feature channels are split into as many contiguous
groups as the image has channels; group g at a position may depend on every
earlier position, and at its own position on input groups < g (mask A, the
first layer, which must not see the value it predicts) or <= g (mask B, every
later layer).  So the logits of channel c at (i, j) depend only on sub-pixels
before (i, j, c), the property the decoders rely on.
"""

from __future__ import annotations

from enum import Enum

import torch
import torch.nn.functional as F
from torch import nn


class MaskType(str, Enum):
    A = "A"  # centre: strictly earlier channel groups
    B = "B"  # centre: earlier or the same channel group


def channel_groups(channels: int, groups: int) -> torch.Tensor:
    """The group of each of ``channels`` feature channels split into ``groups`` contiguous blocks."""
    return torch.arange(channels) * groups // channels


def causal_mask(out_channels: int, in_channels: int, kernel: int, mask_type: MaskType, colours: int) -> torch.Tensor:
    """A (out, in, k, k) 0/1 mask: rows above, columns left of the centre, and the centre by channel group."""
    mask = torch.zeros(out_channels, in_channels, kernel, kernel)
    centre = kernel // 2
    mask[:, :, :centre, :] = 1
    mask[:, :, centre, :centre] = 1
    out_group = channel_groups(out_channels, colours)[:, None]
    in_group = channel_groups(in_channels, colours)[None, :]
    allowed = in_group < out_group if mask_type is MaskType.A else in_group <= out_group
    mask[:, :, centre, centre] = allowed.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-size convolution whose weight is multiplied by a causal mask on every use."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, mask_type: MaskType, colours: int) -> None:
        super().__init__(in_channels, out_channels, kernel, padding=kernel // 2)
        self.register_buffer("mask", causal_mask(out_channels, in_channels, kernel, mask_type, colours), persistent=False)

    @property
    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.masked_weight, self.bias, padding=self.padding)
