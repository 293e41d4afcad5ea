"""VGG-19 with batch norm (Simonyan & Zisserman 2014), the paper's S!=T transfer source.

The head is the common CIFAR variant, one linear layer on the globally pooled
512 features, not the original's three fully connected layers of 4096 on a
7x7 map (which 32x32 inputs do not have); the AID-Purifier paper does not say
which head its VGG-19 used.

Max-pooling stops once the feature map is 1x1, so the same network also fits
28x28 inputs.  Taps: ``layer1`` the first convolution's activation, then the
activation ending each of the five stages.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from bench.models.registry import ARCHS
from bench.models.taps import TappedClassifier

VGG19_STAGES = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))


class VGG(TappedClassifier):
    def __init__(self, num_classes: int, image_shape: Sequence[int], mean, std, stages=VGG19_STAGES) -> None:
        super().__init__(mean, std)
        layers: list[nn.Module] = []
        c_in, size, taps, index = image_shape[0], image_shape[1], {}, 0
        for s, stage in enumerate(stages):
            for width in stage:
                layers += [nn.Conv2d(c_in, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
                c_in = width
                if index == 0:
                    taps["layer1"] = f"features.{len(layers) - 1}"
                index += 1
            taps[f"layer{s + 2}"] = f"features.{len(layers) - 1}"
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
        self.features = nn.Sequential(*layers)
        self.tap_points = taps
        self.classifier = nn.Linear(c_in, num_classes)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features(x)
        return self.classifier(out.mean(dim=(2, 3)))


@ARCHS.register("vgg19")
def vgg19(num_classes: int, image_shape: Sequence[int], mean, std) -> VGG:
    return VGG(num_classes, image_shape, mean, std)
