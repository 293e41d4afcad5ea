"""The purifier P: NRP's ResNet generator (``NRP_resG``), a width and depth scaled to the dataset.

Layout of the released generator: a 3x3 convolution and LeakyReLU(0.1), ``blocks``
residual blocks without batch norm (conv-ReLU-conv plus the identity, weights
initialised at 0.1 of Kaiming's scale so each block starts near the identity),
and a 3x3 convolution to the image channels.  It predicts the image itself
(no skip from input to output), so everything it returns is re-synthesised.

Parameter counts (``parameter_count``): 64 channels and 16 blocks on RGB give
1,185,219 parameters, the README's "about 1.2M"; the mnist5k preset (32
channels, 4 blocks, one input channel) gives 74,593, scaled down for 28x28
grey digits (the README's network purifies 224x224 RGB images).
"""

from __future__ import annotations

import torch
from torch import nn

#: Scale of the residual blocks' initial weights relative to Kaiming's (as in the released code).
BLOCK_INIT_SCALE = 0.1


class ResidualBlock(nn.Module):
    """conv3x3-ReLU-conv3x3 plus the identity, no normalisation."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.relu = nn.ReLU()
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, a=0.0, mode="fan_in")
            conv.weight.data.mul_(BLOCK_INIT_SCALE)
            nn.init.zeros_(conv.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.conv2(self.relu(self.conv1(h)))


class PurifierNet(nn.Module):
    """NRP_resG: images in, images out (unclamped; the defense clamps to [0, 1])."""

    def __init__(self, channels: int, width: int, blocks: int) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(channels, width, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.trunk = nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))
        self.conv_last = nn.Conv2d(width, channels, 3, padding=1)
        self.to(memory_format=torch.channels_last)  # faster convolutions on the CPU (benchmarks/README.md, "Channels-last")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_last(self.trunk(self.act(self.conv_first(x))))


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
