"""Datasets from local files: ``npz:``, ``imagefolder:`` and ``tinyimagenet``.

``npz:PATH`` reads arrays ``x`` (uint8 N,H,W[,C] or float N,C,H,W in [0, 1])
and ``y``.  The split comes, in this order, from ``npz:TRAIN,TEST`` (two
files), from an optional ``split`` array in the file (``"train"``/``"test"``
or 0/1), or else from a stratified 80/20 split with seed 0.  Every split is
stored in one fixed shuffled order, since files are often grouped by class.
The fingerprint hashes the files' bytes, so a renamed file keeps its cache.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.data.registry import DATASETS
from bench.data.splits import DatasetSplits, Split, fixed_order, make_split
from bench.errors import DataUnavailableError, InvalidInputError
from bench.hashing import file_digest
from bench.paths import data_root

HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def _existing(path_text: str, what: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.exists():
        raise DataUnavailableError(f"{what}: {path} does not exist; give the path of an existing file or directory")
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (ValueError, OSError) as exc:
        raise InvalidInputError(f"npz:{path}: not a readable .npz of plain arrays ({exc})") from exc
    missing = {"x", "y"} - arrays.keys()
    if missing:
        raise InvalidInputError(f"npz:{path}: missing array(s) {sorted(missing)}; save with np.savez(path, x=..., y=...)")
    return arrays


def _stratified_holdout(x: np.ndarray, y: np.ndarray) -> tuple[Split, Split]:
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=HOLDOUT_FRACTION, stratify=y, random_state=HOLDOUT_SEED)
    return make_split(x_tr, y_tr), make_split(x_te, y_te)


def _split_by_array(arrays: dict[str, np.ndarray], path: Path) -> tuple[Split, Split]:
    split = arrays["split"]
    is_test = (split == "test") if split.dtype.kind in "US" else (split.astype(np.int64) == 1)
    if is_test.all() or not is_test.any():
        raise InvalidInputError(f"npz:{path}: the 'split' array must mark both train and test examples")
    x, y = arrays["x"], arrays["y"]
    return make_split(x[~is_test], y[~is_test]), make_split(x[is_test], y[is_test])


@DATASETS.register("npz")
def npz(location: str) -> DatasetSplits:
    paths = [_existing(p, "npz") for p in location.split(",")]
    if len(paths) > 2:
        raise InvalidInputError("npz takes one file or two (npz:TRAIN,TEST)")
    loaded = [_read_npz(p) for p in paths]
    if len(paths) == 2:
        train, test = (make_split(a["x"], a["y"]) for a in loaded)
    elif "split" in loaded[0]:
        train, test = _split_by_array(loaded[0], paths[0])
    else:
        train, test = _stratified_holdout(loaded[0]["x"], loaded[0]["y"])
    if train.x.shape[1:] != test.x.shape[1:]:
        raise InvalidInputError(f"npz: train and test images differ in shape: {tuple(train.x.shape[1:])} vs {tuple(test.x.shape[1:])}")
    num_classes = int(max(train.y.max(), test.y.max())) + 1
    fingerprint = "npz/" + "+".join(file_digest(p)[:16] for p in paths)
    return DatasetSplits(f"npz:{location}", fixed_order(train), fixed_order(test), num_classes, fingerprint)


def _read_image_dir(root: Path, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    images, labels = [], []
    for label, cls in enumerate(classes):
        for file in sorted((root / cls).rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(file) as im:
                    images.append(np.asarray(im.convert("RGB")))
                labels.append(label)
    if not images:
        raise DataUnavailableError(f"no images found under {root}")
    if len({im.shape for im in images}) != 1:
        raise InvalidInputError(f"images under {root} differ in size; resize them to one size first")
    return np.stack(images), np.asarray(labels)


def _digest_tree(root: Path) -> str:
    h = hashlib.sha256()
    for file in sorted(root.rglob("*")):
        if file.is_file():
            h.update(str(file.relative_to(root)).encode())
            h.update(file_digest(file).encode())
    return h.hexdigest()[:16]


@DATASETS.register("imagefolder")
def imagefolder(location: str) -> DatasetSplits:
    """``DIR/train/<class>/*`` and ``DIR/test/<class>/*`` (or ``val/``) in torchvision's ImageFolder layout."""
    root = _existing(location, "imagefolder")
    test_dir = next((root / d for d in ("test", "val") if (root / d).is_dir()), None)
    if not (root / "train").is_dir() or test_dir is None:
        raise DataUnavailableError(f"imagefolder:{root}: expected subdirectories train/ and test/ (or val/), one folder per class")
    classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
    train = make_split(*_read_image_dir(root / "train", classes))
    test = make_split(*_read_image_dir(test_dir, classes))
    return DatasetSplits(f"imagefolder:{location}", fixed_order(train), fixed_order(test), len(classes), "imagefolder/" + _digest_tree(root))


def _tiny_val(root: Path, wnids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    index = {w: i for i, w in enumerate(wnids)}
    images, labels = [], []
    for line in (root / "val" / "val_annotations.txt").read_text().splitlines():
        file, wnid = line.split("\t")[:2]
        with Image.open(root / "val" / "images" / file) as im:
            images.append(np.asarray(im.convert("RGB")))
        labels.append(index[wnid])
    return np.stack(images), np.asarray(labels)


@DATASETS.register("tinyimagenet")
def tinyimagenet(location: str | None = None) -> DatasetSplits:
    """The tiny-imagenet-200 layout (wnids.txt, train/<wnid>/images, val/val_annotations.txt); test = val."""
    root = Path(location).expanduser() if location else data_root() / "tiny-imagenet-200"
    if not (root / "wnids.txt").is_file():
        raise DataUnavailableError(
            f"tinyimagenet: no tiny-imagenet-200 layout in {root}; unzip tiny-imagenet-200.zip there, "
            "set PUREBENCH_DATA to its parent, or use tinyimagenet:DIR"
        )
    wnids = (root / "wnids.txt").read_text().split()
    train = make_split(*_read_image_dir(root / "train", wnids))
    test = make_split(*_tiny_val(root, wnids))
    return DatasetSplits("tinyimagenet", fixed_order(train), fixed_order(test), len(wnids), "tinyimagenet/" + _digest_tree(root / "val"))
