"""The critic of NRP's adversarial loss: a small VGG-style discriminator, used only while training.

NRP borrows ESRGAN's VGG-style discriminator; at our image sizes it is scaled
down to a 3x3 convolution, two strided 4x4 convolutions (LeakyReLU 0.2, no
normalisation, so a batch's examples do not interact), global average
pooling and one linear unit: a realness score per image.
"""

from __future__ import annotations

import torch
from torch import nn


class Critic(nn.Module):
    """Image -> realness score (a logit, before the relativistic comparison)."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        act = nn.LeakyReLU(0.2)
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), act,
            nn.Conv2d(width, width, 4, stride=2, padding=1), act,
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), act,
        )
        self.out = nn.Linear(2 * width, 1)
        self.to(memory_format=torch.channels_last)  # faster convolutions on the CPU (benchmarks/README.md, "Channels-last")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x).mean(dim=(2, 3))).squeeze(1)
