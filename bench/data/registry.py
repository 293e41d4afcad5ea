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


def split_dataset_names(text: str) -> list[str]:
    """``"mnist5k,npz:a.npz,b.npz"`` -> ``["mnist5k", "npz:a.npz,b.npz"]``: a comma-separated list of datasets.

    A piece after ``npz:TRAIN`` that names no registered source (no ``name:``
    prefix, not a dataset name) is that npz's test file, so the two-file form
    ``npz:TRAIN,TEST`` reads the same from a flag as from a spec file.
    """
    names: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        previous = names[-1] if names else ""
        continues = (previous.startswith("npz:") and "," not in previous and piece
                     and parse_dataset_name(piece)[0] not in DATASETS)
        if continues:
            names[-1] = f"{previous},{piece}"
        else:
            names.append(piece)
    return names


def load_dataset(name: str) -> DatasetSplits:
    """Train and test splits of ``name`` as float tensors in [0, 1], in a fixed order."""
    source, location = parse_dataset_name(name)
    factory: Callable[..., DatasetSplits] = DATASETS.get(source)
    return factory(location) if location is not None else factory()
