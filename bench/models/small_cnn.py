"""Small CNNs for 28x28 grey images (mnist5k).

``smallcnn`` follows the layout of Madry et al.'s MNIST network (two 5x5
convolutions with max-pooling, then a hidden fully connected layer), narrowed
(16/32 channels, 256 hidden units) so adversarial training fits a 2-core CPU.
``lenet`` is a different small network, the default S!=T transfer source there.

``smallcnn`` keeps its convolution weights channels-last, so its activations
are channels-last too: oneDNN's convolutions and max-pooling run faster on
that layout (benchmarks/README.md, "Channels-last"), and the max-pooling's
cost no longer depends on the input's values.  Outputs and gradients are the
same up to float rounding; the state dict holds the same values, and caches
store it contiguous.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from bench.models.registry import ARCHS
from bench.models.taps import TappedClassifier


def _flat_size(features: nn.Module, image_shape: Sequence[int]) -> int:
    with torch.no_grad():
        return int(features(torch.zeros(1, *image_shape)).numel())


class SmallCNN(TappedClassifier):
    tap_points = {"layer1": "relu1", "layer2": "relu2", "layer3": "relu3"}

    def __init__(self, num_classes: int, image_shape: Sequence[int], mean, std, width: int = 16, hidden: int = 256) -> None:
        super().__init__(mean, std)
        c = image_shape[0]
        self.conv1, self.relu1 = nn.Conv2d(c, width, 5, padding=2), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        stem = nn.Sequential(self.conv1, self.relu1, self.pool, self.conv2, self.relu2, self.pool)
        self.fc1, self.relu3 = nn.Linear(_flat_size(stem, image_shape), hidden), nn.ReLU()
        self.fc2 = nn.Linear(hidden, num_classes)
        self.to(memory_format=torch.channels_last)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu1(self.conv1(x)))
        x = self.pool(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(x.flatten(1))))


class LeNet(TappedClassifier):
    tap_points = {"layer1": "act1", "layer2": "act2", "layer3": "act3"}

    def __init__(self, num_classes: int, image_shape: Sequence[int], mean, std) -> None:
        super().__init__(mean, std)
        c = image_shape[0]
        self.conv1, self.act1 = nn.Conv2d(c, 6, 5), nn.ReLU()
        self.conv2, self.act2 = nn.Conv2d(6, 16, 5), nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        stem = nn.Sequential(self.conv1, self.act1, self.pool, self.conv2, self.act2, self.pool)
        self.fc1, self.act3 = nn.Linear(_flat_size(stem, image_shape), 120), nn.ReLU()
        self.fc2, self.act4 = nn.Linear(120, 84), nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act1(self.conv1(x)))
        x = self.pool(self.act2(self.conv2(x)))
        x = self.act3(self.fc1(x.flatten(1)))
        return self.fc3(self.act4(self.fc2(x)))


@ARCHS.register("smallcnn")
def smallcnn(num_classes: int, image_shape: Sequence[int], mean, std) -> SmallCNN:
    return SmallCNN(num_classes, image_shape, mean, std)


@ARCHS.register("lenet")
def lenet(num_classes: int, image_shape: Sequence[int], mean, std) -> LeNet:
    return LeNet(num_classes, image_shape, mean, std)
