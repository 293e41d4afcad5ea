"""Wide ResNets (Zagoruyko & Komodakis 2016); WRN-34-10 is the AID-Purifier paper's network.

Taps: ``layer1`` the first convolution, ``layer2..layer4`` the outputs of the
three block groups, so the README's flags map directly (SVHN layer1+layer4 is
{1st conv, 15th block}; CIFAR layer1+layer3 is {1st conv, 10th block}).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.registry import ARCHS
from bench.models.taps import TappedClassifier


class WideBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False) if c_in != c_out or stride != 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv2(F.relu(self.bn2(self.conv1(out))))
        return out + skip


class WideResNet(TappedClassifier):
    tap_points = {"layer1": "conv1", "layer2": "block1", "layer3": "block2", "layer4": "block3"}

    def __init__(self, num_classes: int, image_shape: Sequence[int], mean, std, depth: int = 34, widen: int = 10) -> None:
        super().__init__(mean, std)
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(image_shape[0], widths[0], 3, 1, 1, bias=False)
        groups = []
        for i in range(3):
            stride = 1 if i == 0 else 2
            groups.append(nn.Sequential(*[WideBlock(widths[i] if j == 0 else widths[i + 1], widths[i + 1], stride if j == 0 else 1) for j in range(n)]))
        self.block1, self.block2, self.block3 = groups
        self.bn = nn.BatchNorm2d(widths[3])
        self.fc = nn.Linear(widths[3], num_classes)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1)
        return self.fc(out.flatten(1))


@ARCHS.register("wrn34_10")
def wrn34_10(num_classes: int, image_shape: Sequence[int], mean, std) -> WideResNet:
    return WideResNet(num_classes, image_shape, mean, std, depth=34, widen=10)


@ARCHS.register("wrn16_4")
def wrn16_4(num_classes: int, image_shape: Sequence[int], mean, std) -> WideResNet:
    """A small WRN with the same taps, for CPU-sized runs on real images."""
    return WideResNet(num_classes, image_shape, mean, std, depth=16, widen=4)
