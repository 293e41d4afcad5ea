"""A small PixelCNN with a 256-way softmax per sub-pixel.

The output is a categorical distribution over the 256 intensities of each
sub-pixel rather than PixelCNN++'s discretised logistic mixture: greedy
decoding needs the probability of every candidate level, which the softmax
gives directly as logits (no differences of CDFs, whose rounding could reorder
close candidates), and on 8-bit data its extra parameters are cheap.

Layers: a mask-A convolution, then residual blocks
``h + conv1x1(relu(masked_conv(relu(h))))`` (mask B, plain rather than gated:
smaller and faster to train on a CPU), then a 1x1 head.  Every 1x1 convolution
is masked too, so colour images keep the channel-wise ordering.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import InvalidInputError
from defenses.pixeldefend.config import LEVELS
from defenses.pixeldefend.masks import MaskedConv2d, MaskType


class ResidualBlock(nn.Module):
    def __init__(self, hidden: int, kernel: int, colours: int) -> None:
        super().__init__()
        self.conv = MaskedConv2d(hidden, hidden, kernel, MaskType.B, colours)
        self.mix = MaskedConv2d(hidden, hidden, 1, MaskType.B, colours)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.mix(F.relu(self.conv(F.relu(h))))


class PixelCNN(nn.Module):
    """Logits (N, C, 256, H, W) of each sub-pixel's intensity given the sub-pixels before it."""

    def __init__(self, colours: int, hidden: int, blocks: int, first_kernel: int, kernel: int) -> None:
        super().__init__()
        if hidden % colours:
            raise InvalidInputError(f"pixeldefend hidden ({hidden}) must be a multiple of the image's channels ({colours})")
        self.colours = colours
        self.first = MaskedConv2d(colours, hidden, first_kernel, MaskType.A, colours)
        self.blocks = nn.ModuleList(ResidualBlock(hidden, kernel, colours) for _ in range(blocks))
        self.head = MaskedConv2d(hidden, hidden, 1, MaskType.B, colours)
        self.out = MaskedConv2d(hidden, colours * LEVELS, 1, MaskType.B, colours)

    @staticmethod
    def normalise(levels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Integer levels 0..255 -> the network's input scale [-1, 1]."""
        return levels.to(dtype) * (2.0 / (LEVELS - 1)) - 1.0

    def forward(self, levels: torch.Tensor) -> torch.Tensor:
        h = self.first(self.normalise(levels, self.first.weight.dtype))
        for block in self.blocks:
            h = block(h)
        logits = self.out(F.relu(self.head(F.relu(h))))
        n, _, height, width = logits.shape
        return logits.view(n, self.colours, LEVELS, height, width)
