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
import io
from pathlib import Path

import numpy as np

from bench.data.registry import DATASETS, parse_dataset_name
from bench.data.splits import DatasetSplits, Split, fixed_order, make_split, to_labels
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
    except Exception as exc:  # noqa: BLE001 - zip, header and pickle errors all mean the file is unreadable
        raise InvalidInputError(f"npz:{path}: not a readable .npz of plain arrays ({type(exc).__name__}: {exc})") from None
    missing = {"x", "y"} - arrays.keys()
    if missing:
        raise InvalidInputError(f"npz:{path}: missing array(s) {sorted(missing)}; save with np.savez(path, x=..., y=...)")
    x, y = arrays["x"], arrays["y"]
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise InvalidInputError(f"npz:{path}: {_length(x)} images but {_length(y)} labels; x and y must have one entry "
                                "per example, y of shape (N,)")
    if not len(x):
        raise InvalidInputError(f"npz:{path}: no examples (x has shape {x.shape}); save a dataset with train and test examples")
    return arrays


def _length(a: np.ndarray) -> str:
    return str(len(a)) if a.ndim else "no axis of"


def _stratified_holdout(x: np.ndarray, y: np.ndarray, path: Path) -> tuple[Split, Split]:
    from sklearn.model_selection import train_test_split

    labels = to_labels(y).numpy()
    classes, counts = np.unique(labels, return_counts=True)
    fix = "add examples, or mark the split with a 'split' array, or give two files npz:TRAIN,TEST"
    if counts.min() < 2:
        raise InvalidInputError(f"npz:{path}: a stratified 80/20 split needs 2 examples of each class, but class "
                                f"{classes[counts.argmin()]} has {counts.min()}; {fix}")
    try:
        x_tr, x_te, y_tr, y_te = train_test_split(x, labels, test_size=HOLDOUT_FRACTION, stratify=labels,
                                                  random_state=HOLDOUT_SEED)
    except ValueError as exc:  # too few examples for one of each class on both sides
        raise InvalidInputError(f"npz:{path}: no stratified 80/20 split of {len(labels)} examples in {len(classes)} "
                                f"classes ({exc}); {fix}") from None
    return make_split(x_tr, y_tr), make_split(x_te, y_te)


def _split_by_array(arrays: dict[str, np.ndarray], path: Path) -> tuple[Split, Split]:
    split, x, y = arrays["split"], arrays["x"], arrays["y"]
    if split.shape != (len(x),):
        raise InvalidInputError(f"npz:{path}: the 'split' array has {split.size} entries for {len(x)} examples "
                                f"(shape {split.shape}); give one 'train'/'test' or 0/1 per example")
    if split.dtype.kind in "US":
        values, is_test = {"train", "test"}, split.astype(str) == "test"
    elif split.dtype.kind in "iub":
        values, is_test = {0, 1}, split.astype(np.int64) == 1
    else:
        raise InvalidInputError(f"npz:{path}: the 'split' array must hold 'train'/'test' or 0/1, got dtype {split.dtype}")
    unknown = sorted(set(split.tolist()) - values, key=str)
    if unknown:
        raise InvalidInputError(f"npz:{path}: the 'split' array holds {unknown[:3]}; use only 'train'/'test' or 0/1")
    if is_test.all() or not is_test.any():
        raise InvalidInputError(f"npz:{path}: the 'split' array must mark both train and test examples")
    return make_split(x[~is_test], y[~is_test]), make_split(x[is_test], y[is_test])


def _npz_paths(location: str) -> list[Path]:
    paths = [_existing(p, "npz") for p in location.split(",")]
    if len(paths) > 2:
        raise InvalidInputError("npz takes one file or two (npz:TRAIN,TEST)")
    return paths


def _npz_fingerprint(location: str) -> str:
    return "npz/" + "+".join(file_digest(p)[:16] for p in _npz_paths(location))


def _imagefolder_fingerprint(location: str) -> str:
    return "imagefolder/" + _digest_tree(_existing(location, "imagefolder"))


#: Sources whose contents are local files the user may change; their digests belong to a run's identity.
_CONTENT_FINGERPRINTS = {"npz": _npz_fingerprint, "imagefolder": _imagefolder_fingerprint}


def content_fingerprint(name: str) -> str | None:
    """The digest of a local source's files (hashed, not decoded); None for a named dataset such as ``mnist5k``."""
    source, location = parse_dataset_name(name)
    fingerprint = _CONTENT_FINGERPRINTS.get(source)
    return fingerprint(location) if fingerprint is not None and location is not None else None


@DATASETS.register("npz")
def npz(location: str) -> DatasetSplits:
    paths = _npz_paths(location)
    try:
        return _npz_splits(location, paths)
    except InvalidInputError as exc:
        if str(exc).startswith("npz:"):
            raise
        raise InvalidInputError(f"npz:{location}: {exc}") from None


def _npz_splits(location: str, paths: list[Path]) -> DatasetSplits:
    loaded = [_read_npz(p) for p in paths]
    if len(paths) == 2:
        train, test = (make_split(a["x"], a["y"]) for a in loaded)
    elif "split" in loaded[0]:
        train, test = _split_by_array(loaded[0], paths[0])
    else:
        train, test = _stratified_holdout(loaded[0]["x"], loaded[0]["y"], paths[0])
    num_classes = int(max(train.y.max(), test.y.max())) + 1
    return DatasetSplits(f"npz:{location}", fixed_order(train), fixed_order(test), num_classes, _npz_fingerprint(location))


class _ReadDigest:
    """A digest of the files a loader reads, fed with the bytes it decodes (each file is read once).

    Hashing the bytes as they are read adds one SHA-256 pass (about 250 MB for
    TinyImageNet's 110,000 files, a second or so) to a load that decodes every
    one of them anyway, and nothing can change between hashing and decoding.  A
    fast path keyed on (path, size, mtime) would save little beside the decoding
    and miss a same-size rewrite within the filesystem's mtime resolution.
    Names are taken relative to the dataset's root, so a moved folder keeps its
    cache.
    """

    def __init__(self, root: Path) -> None:
        self.root, self.hash = root, hashlib.sha256()

    def read(self, file: Path) -> bytes:
        data = file.read_bytes()
        self.hash.update(f"{file.relative_to(self.root).as_posix()}\0".encode())
        self.hash.update(hashlib.sha256(data).digest())
        return data

    def hexdigest(self) -> str:
        return self.hash.hexdigest()[:16]


def _read_image(file: Path, digest: _ReadDigest | None = None) -> np.ndarray:
    """An RGB uint8 array (H, W, 3); a missing, truncated or foreign file is named in the error."""
    from PIL import Image

    try:
        source = io.BytesIO(digest.read(file)) if digest is not None else file
        with Image.open(source) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - PIL raises OSError, ValueError, DecompressionBombError... for bad files
        raise InvalidInputError(f"{file} is not a readable image ({type(exc).__name__}: {exc}); replace or remove it") from None


def _read_image_dir(root: Path, classes: list[str], digest: _ReadDigest | None = None) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for label, cls in enumerate(classes):
        for file in sorted((root / cls).rglob("*")):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                images.append(_read_image(file, digest))
                labels.append(label)
    return _stacked(images, root), np.asarray(labels)


def _stacked(images: list[np.ndarray], root: Path) -> np.ndarray:
    if not images:
        raise DataUnavailableError(f"no images found under {root}")
    if len({im.shape for im in images}) != 1:
        raise InvalidInputError(f"images under {root} differ in size; resize them to one size first")
    return np.stack(images)


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
    return DatasetSplits(f"imagefolder:{location}", fixed_order(train), fixed_order(test), len(classes),
                         _imagefolder_fingerprint(location))


def _tiny_val(root: Path, wnids: list[str], digest: _ReadDigest) -> tuple[np.ndarray, np.ndarray]:
    index = {w: i for i, w in enumerate(wnids)}
    annotations = root / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise DataUnavailableError(f"tinyimagenet: {annotations} is missing; unzip the whole tiny-imagenet-200.zip")
    images, labels = [], []
    for number, line in enumerate(digest.read(annotations).decode(errors="replace").splitlines(), 1):
        fields = line.split("\t")
        if len(fields) < 2 or fields[1] not in index:
            raise InvalidInputError(f"{annotations}, line {number}: expected 'FILE<TAB>WNID...' with a wnid of wnids.txt, "
                                    f"got {line[:80]!r}")
        images.append(_read_image(root / "val" / "images" / fields[0], digest))
        labels.append(index[fields[1]])
    return _stacked(images, root / "val"), np.asarray(labels)


@DATASETS.register("tinyimagenet")
def tinyimagenet(location: str | None = None) -> DatasetSplits:
    """The tiny-imagenet-200 layout (wnids.txt, train/<wnid>/images, val/val_annotations.txt); test = val."""
    root = Path(location).expanduser() if location else data_root() / "tiny-imagenet-200"
    if not (root / "wnids.txt").is_file():
        raise DataUnavailableError(
            f"tinyimagenet: no tiny-imagenet-200 layout in {root}; unzip tiny-imagenet-200.zip there, "
            "set PUREBENCH_DATA to its parent, or use tinyimagenet:DIR"
        )
    digest = _ReadDigest(root)  # every file read below, training images included
    wnids = digest.read(root / "wnids.txt").decode(errors="replace").split()
    train = make_split(*_read_image_dir(root / "train", wnids, digest))
    test = make_split(*_tiny_val(root, wnids, digest))
    return DatasetSplits("tinyimagenet", fixed_order(train), fixed_order(test), len(wnids), "tinyimagenet/" + digest.hexdigest())
