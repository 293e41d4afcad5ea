"""The dataset registry and ``load_dataset``.

Registered names (``mnist5k``, ``cifar10``...) take no argument; local sources
take a location after a colon: ``npz:PATH[,TEST_PATH]``, ``imagefolder:DIR``,
``tinyimagenet[:DIR]``.
"""

from __future__ import annotations

from typing import Callable

from bench.data.splits import DatasetSplits
from bench.registry import Registry

DATASETS: Registry[DatasetSplits] = Registry("datasets")


def parse_dataset_name(name: str) -> tuple[str, str | None]:
    """``"npz:a.npz"`` -> ``("npz", "a.npz")``; ``"mnist5k"`` -> ``("mnist5k", None)``."""
    source, sep, location = name.partition(":")
    return source, (location if sep else None)


def load_dataset(name: str) -> DatasetSplits:
    """Train and test splits of ``name`` as float tensors in [0, 1], in a fixed order."""
    source, location = parse_dataset_name(name)
    factory: Callable[..., DatasetSplits] = DATASETS.get(source)
    return factory(location) if location is not None else factory()
