"""The in-memory form of a dataset: two splits of float images in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from bench.errors import InvalidInputError

#: The seed of the one fixed order every split is stored in, so that "the first
#: n test examples" is a fair sample and every tool sees the same ones.
ORDER_SEED = 0
#: More classes than this is a label gone wrong (ImageNet-21k has about 21,800); a model that wide would not fit memory.
MAX_CLASSES = 100_000


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

    def __post_init__(self) -> None:
        for which, split in (("train", self.train), ("test", self.test)):
            if not len(split):
                raise InvalidInputError(f"the {which} split has no examples; give a dataset with train and test examples")
        if self.train.x.shape[1:] != self.test.x.shape[1:]:
            raise InvalidInputError(f"train and test images differ in shape: {tuple(self.train.x.shape[1:])} vs "
                                    f"{tuple(self.test.x.shape[1:])}")
        if not 1 <= self.num_classes <= MAX_CLASSES:
            raise InvalidInputError(f"{self.num_classes} classes; labels must be class indices 0..K-1 with K at most {MAX_CLASSES}")
        top = max(int(self.train.y.max()), int(self.test.y.max()))
        if top >= self.num_classes:
            raise InvalidInputError(f"a label of {top} with {self.num_classes} classes; labels must be 0..{self.num_classes - 1}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.x.shape[1:])  # type: ignore[return-value]

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the training images (for in-model normalisation)."""
        x = self.train.x
        return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist()


def to_float_images(x: np.ndarray) -> torch.Tensor:
    """uint8 NHWC/NHW or float NCHW arrays -> float32 NCHW tensor in [0, 1]."""
    if x.ndim >= 2 and 0 in x.shape[1:]:
        raise InvalidInputError(f"images are empty: shape {x.shape} has a side of 0")
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


def to_labels(y: np.ndarray) -> torch.Tensor:
    """Class indices (N,) int64; float labels must be whole numbers, so nothing is silently truncated."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        hint = "; for one-hot labels save y.argmax(1)" if y.ndim == 2 else ""
        raise InvalidInputError(f"labels must be an array (N,) of class indices, got shape {y.shape}{hint}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise InvalidInputError("float labels must be whole numbers (class indices 0..K-1); got fractions or NaN")
    elif y.dtype.kind not in "iu":
        raise InvalidInputError(f"labels must be integers 0..K-1, got dtype {y.dtype}; map class names to indices first")
    if len(y) and (y.min() < 0 or y.max() >= MAX_CLASSES):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise InvalidInputError(f"a label of {bad}: labels must be class indices 0..K-1 with K at most {MAX_CLASSES} classes")
    return torch.from_numpy(y.astype(np.int64))


def make_split(x: np.ndarray, y: np.ndarray) -> Split:
    labels = to_labels(y)
    if len(x) != len(labels):
        raise InvalidInputError(f"{len(x)} images but {len(labels)} labels; x and y must have one entry per example")
    return Split(to_float_images(x), labels)
