"""A DCGAN generator and discriminator for images whose sides are multiples of 4.

The generator maps z to an image through a linear layer onto an (H/4, W/4)
grid and two stride-2 transposed convolutions, with batch normalisation (in
eval mode, a fixed affine map, so purification does not depend on the batch)
and a sigmoid, so every output is an image in [0, 1].  The discriminator
mirrors it with two stride-2 convolutions and no normalisation.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.errors import InvalidInputError


def grid(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """The (H/4, W/4) grid the generator starts from."""
    _, height, width = image_shape
    if height % 4 or width % 4:
        raise InvalidInputError(f"defensegan needs image sides that are multiples of 4, got {height}x{width}; pad or crop the images")
    return height // 4, width // 4


class Generator(nn.Module):
    def __init__(self, latent: int, width: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        rows, cols = grid(image_shape)
        self.latent = latent
        self.image_shape = tuple(image_shape)
        self.project = nn.Sequential(nn.Linear(latent, 4 * width * rows * cols), nn.BatchNorm1d(4 * width * rows * cols),
                                     nn.ReLU(), nn.Unflatten(1, (4 * width, rows, cols)))
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(4 * width, 2 * width, 4, stride=2, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, image_shape[0], 4, stride=2, padding=1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(z))


class Discriminator(nn.Module):
    """The logit of "real" for each image."""

    def __init__(self, width: int, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        rows, cols = grid(image_shape)
        self.net = nn.Sequential(
            nn.Conv2d(image_shape[0], 2 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(4 * width * rows * cols, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
