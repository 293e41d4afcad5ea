"""CIFAR-10, CIFAR-100 and SVHN through torchvision, downloaded when reachable.

Files live under ``PUREBENCH_DATA/<name>``.  ``PUREBENCH_OFFLINE=1`` skips the
download attempt.  When the files are missing and cannot be fetched the error
names the dataset, the directory looked in and how to provide the files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.data.metadata import torchvision_fingerprint
from bench.data.registry import DATASETS
from bench.data.splits import DatasetSplits, fixed_order, make_split
from bench.errors import DataUnavailableError
from bench.paths import data_root

HOW_TO_PROVIDE = {
    "cifar10": "put cifar-10-python.tar.gz (or its extracted cifar-10-batches-py/) there",
    "cifar100": "put cifar-100-python.tar.gz (or its extracted cifar-100-python/) there",
    "svhn": "put train_32x32.mat and test_32x32.mat there",
}


def _offline() -> bool:
    return os.environ.get("PUREBENCH_OFFLINE", "") not in ("", "0")


def _open(name: str, build: Callable[[Path, bool], Any], directory: Path) -> Any:
    """Open a torchvision dataset from ``directory``, downloading only if it is missing."""
    try:
        return build(directory, False)
    except RuntimeError:
        pass  # not there yet: try the download below
    problem = "PUREBENCH_OFFLINE is set"
    if not _offline():
        created = not directory.exists()
        try:
            return build(directory, True)
        except Exception as exc:  # noqa: BLE001 - any network failure means the same to the user
            problem = f"download failed: {type(exc).__name__}: {exc}".splitlines()[0]
            if created:  # leave nothing behind from a failed download
                shutil.rmtree(directory, ignore_errors=True)
    raise DataUnavailableError(
        f"{name}: not found in {directory} and {problem}; {HOW_TO_PROVIDE[name]}, "
        f"set PUREBENCH_DATA to a directory holding {name}/, or use a local source such as npz:PATH"
    )


def _load(name: str, build: Callable[[Path, bool, bool], Any], to_arrays: Callable[[Any], tuple]) -> DatasetSplits:
    directory = data_root() / name
    splits = []
    for train in (True, False):
        ds = _open(name, lambda root, dl, train=train: build(root, train, dl), directory)
        x, y = to_arrays(ds)
        splits.append(fixed_order(make_split(x, y)))
    num_classes = int(max(splits[0].y.max(), splits[1].y.max())) + 1
    return DatasetSplits(name, splits[0], splits[1], num_classes, fingerprint=torchvision_fingerprint(name))


def _cifar_arrays(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    return ds.data, np.asarray(ds.targets)


@DATASETS.register("cifar10")
def cifar10() -> DatasetSplits:
    from torchvision.datasets import CIFAR10

    return _load("cifar10", lambda r, t, d: CIFAR10(str(r), train=t, download=d), _cifar_arrays)


@DATASETS.register("cifar100")
def cifar100() -> DatasetSplits:
    from torchvision.datasets import CIFAR100

    return _load("cifar100", lambda r, t, d: CIFAR100(str(r), train=t, download=d), _cifar_arrays)


@DATASETS.register("svhn")
def svhn() -> DatasetSplits:
    from torchvision.datasets import SVHN

    def build(root: Path, train: bool, download: bool) -> Any:
        return SVHN(str(root), split="train" if train else "test", download=download)

    # torchvision keeps SVHN as uint8 NCHW; make_split expects NHWC for uint8.
    return _load("svhn", build, lambda ds: (ds.data.transpose(0, 2, 3, 1), ds.labels))
