"""The in-memory form of a dataset: two splits of float images in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench.errors import InvalidInputError

#: The seed of the one fixed order every split is stored in, so that "the first
#: n test examples" is a fair sample and every tool sees the same ones.
ORDER_SEED = 0


@dataclass(frozen=True)
class Split:
    """Images ``x`` (N, C, H, W) float32 in [0, 1] and labels ``y`` (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise InvalidInputError(
                f"a split needs images (N, C, H, W) and labels (N,), got {tuple(self.x.shape)} and {tuple(self.y.shape)}"
            )

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int | None) -> "Split":
        """The first ``n`` examples (all of them for ``None``)."""
        if n is None:
            return self
        if n <= 0:
            raise InvalidInputError(f"n must be positive, got {n}")
        return Split(self.x[:n], self.y[:n])


@dataclass(frozen=True)
class DatasetSplits:
    """A loaded dataset; ``fingerprint`` identifies its contents in cache keys."""

    name: str
    train: Split
    test: Split
    num_classes: int
    fingerprint: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])  # type: ignore[return-value]

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the training images (for in-model normalisation)."""
        x = self.train.x
        return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist()


def to_float_images(x: np.ndarray) -> torch.Tensor:
    """uint8 NHWC/NHW or float NCHW arrays -> float32 NCHW tensor in [0, 1]."""
    if x.dtype == np.uint8:
        if x.ndim == 3:
            x = x[:, :, :, None]
        if x.ndim != 4:
            raise InvalidInputError(f"uint8 images must be (N, H, W[, C]), got shape {x.shape}")
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float().div_(255.0)
    if np.issubdtype(x.dtype, np.floating):
        if x.ndim != 4:
            raise InvalidInputError(f"float images must be (N, C, H, W), got shape {x.shape}")
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if not torch.isfinite(t).all() or t.min() < 0 or t.max() > 1:
            raise InvalidInputError("float images must be finite and in [0, 1]; divide uint8 pixels by 255")
        return t
    raise InvalidInputError(f"images must be uint8 or float, got {x.dtype}")


def fixed_order(split: Split, seed: int = ORDER_SEED) -> Split:
    """The split in one fixed pseudo-random order (sources grouped by class become fair prefixes)."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(split), generator=g)
    return Split(split.x[perm].contiguous(), split.y[perm].contiguous())


def make_split(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(to_float_images(x), torch.as_tensor(np.asarray(y), dtype=torch.int64).reshape(-1))
