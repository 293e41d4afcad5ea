"""PreAct-ResNet-18 (He et al. 2016), the CIFAR variant common in adversarial training."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.registry import ARCHS
from bench.models.taps import TappedClassifier


class PreActBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.shortcut = (
            nn.Conv2d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        skip = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + skip


class PreActResNet(TappedClassifier):
    tap_points = {"layer1": "conv1", "layer2": "group1", "layer3": "group2", "layer4": "group3", "layer5": "group4"}

    def __init__(self, num_classes: int, image_shape: Sequence[int], mean, std, blocks: Sequence[int] = (2, 2, 2, 2)) -> None:
        super().__init__(mean, std)
        self.conv1 = nn.Conv2d(image_shape[0], 64, 3, 1, 1, bias=False)
        widths, c_in, groups = (64, 128, 256, 512), 64, []
        for i, (width, n) in enumerate(zip(widths, blocks)):
            stride = 1 if i == 0 else 2
            layers = [PreActBlock(c_in if j == 0 else width, width, stride if j == 0 else 1) for j in range(n)]
            groups.append(nn.Sequential(*layers))
            c_in = width
        self.group1, self.group2, self.group3, self.group4 = groups
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, num_classes)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        out = self.group4(self.group3(self.group2(self.group1(out))))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1)
        return self.linear(out.flatten(1))


@ARCHS.register("preact_resnet18")
def preact_resnet18(num_classes: int, image_shape: Sequence[int], mean, std) -> PreActResNet:
    return PreActResNet(num_classes, image_shape, mean, std)
