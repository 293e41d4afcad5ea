"""The denoising model g: a small U-Net that restores a masked image, told which pixels it was given.

Its input is the masked image and the mask itself as one more channel: on
dark backgrounds (MNIST) a discarded pixel and a black pixel would otherwise
look the same.  Two levels of stride-2 downsampling with skip connections,
bilinear upsampling (any image size), and an unbounded linear output:
restorations are clipped to [0, 1] downstream, while the reconstruction loss
reads them unclipped, so no pixel loses its gradient (a sigmoid output
saturates on MNIST's black background and the denoiser collapses to a
blank image).  The DIR README keeps its architecture in a file not given
here; this one is ours, sized for a 2-core CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class Denoiser(nn.Module):
    """g(x * m, m) -> a full restored image (unclipped)."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.enc1 = _block(channels + 1, width)
        self.enc2 = _block(width, 2 * width, stride=2)
        self.enc3 = _block(2 * width, 2 * width, stride=2)
        self.dec2 = _block(4 * width, width)
        self.dec1 = _block(2 * width, width)
        self.out = nn.Conv2d(width, channels, 1)
        self.to(memory_format=torch.channels_last)  # faster convolutions on the CPU (benchmarks/README.md, "Channels-last")

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h1 = self.enc1(torch.cat([masked, mask], dim=1))
        h2 = self.enc2(h1)
        h3 = self.enc3(h2)
        d2 = self.dec2(torch.cat([F.interpolate(h3, size=h2.shape[-2:], mode="bilinear", align_corners=False), h2], dim=1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=h1.shape[-2:], mode="bilinear", align_corners=False), h1], dim=1))
        return self.out(d1)
