"""What planning needs to know about a dataset, without reading its images.

A plan needs the test split's size (for n) and the fingerprint that enters
classifier keys.  For the registered datasets these are known in advance, so
``run --dry-run`` can show what a paper config will run on a machine without
the files.  TinyImageNet's fingerprint hashes every file a load reads
(training and validation images, labels): without them, keys computed from
its metadata are provisional.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.data.mnist5k import SPLIT_SEED, TEST_SIZE
from bench.data.registry import parse_dataset_name
from bench.data.splits import DatasetSplits


def torchvision_fingerprint(name: str) -> str:
    """The fingerprint of a torchvision dataset (its contents are fixed by the release, so the name says it all)."""
    return f"{name}/torchvision"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    image_shape: tuple[int, int, int]
    train_size: int
    test_size: int
    fingerprint: str | None  # None: known only once the files are read

    @classmethod
    def of(cls, data: DatasetSplits) -> "DatasetInfo":
        return cls(data.name, data.num_classes, data.image_shape, len(data.train), len(data.test), data.fingerprint)


KNOWN: dict[str, DatasetInfo] = {
    "mnist5k": DatasetInfo("mnist5k", 10, (1, 28, 28), 5000 - TEST_SIZE, TEST_SIZE, f"mnist5k/split-seed{SPLIT_SEED}"),
    "cifar10": DatasetInfo("cifar10", 10, (3, 32, 32), 50000, 10000, torchvision_fingerprint("cifar10")),
    "cifar100": DatasetInfo("cifar100", 100, (3, 32, 32), 50000, 10000, torchvision_fingerprint("cifar100")),
    "svhn": DatasetInfo("svhn", 10, (3, 32, 32), 73257, 26032, torchvision_fingerprint("svhn")),
    "tinyimagenet": DatasetInfo("tinyimagenet", 200, (3, 64, 64), 100000, 10000, None),
}


def dataset_info(name: str) -> DatasetInfo | None:
    """The metadata of a registered dataset (``tinyimagenet:DIR`` included); None for local sources and plugins."""
    source, _ = parse_dataset_name(name)
    known = KNOWN.get(source)
    return None if known is None else DatasetInfo(name, known.num_classes, known.image_shape, known.train_size,
                                                  known.test_size, known.fingerprint)
