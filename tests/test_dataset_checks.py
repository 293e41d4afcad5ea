"""Bad local datasets: each is one ``UserError`` naming the file and the fix, before any work or write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data import load_dataset
from bench.errors import UserError

RNG = np.random.default_rng(0)


def _images(n: int, shape=(8, 8, 3)) -> np.ndarray:
    return RNG.integers(0, 256, size=(n, *shape), dtype=np.uint8)


BAD_NPZ = {
    "x and y lengths differ": (dict(x=_images(10), y=np.arange(9) % 2), "10 images but 9 labels"),
    "zero examples": (dict(x=_images(0), y=np.zeros(0, np.int64)), "no examples"),
    "a class with one example": (dict(x=_images(11), y=np.r_[np.arange(10) % 2, 2]), "class 2 has 1"),
    "too few for a stratified test split": (dict(x=_images(6), y=np.arange(6) % 3), "'split' array"),
    "wrong-length split array": (dict(x=_images(10), y=np.arange(10) % 2, split=np.array(["train", "test"] * 3)), "6 entries for 10"),
    "split values neither train nor test": (dict(x=_images(4), y=np.arange(4) % 2, split=np.array(["train", "tst"] * 2)), "'tst'"),
    "split values not 0/1": (dict(x=_images(4), y=np.arange(4) % 2, split=np.array([0, 1, 2, 1])), "0/1"),
    "a label of -1": (dict(x=_images(10), y=np.r_[np.arange(9) % 2, -1], split=np.array([0, 1] * 5)), "-1"),
    "fractional float labels": (dict(x=_images(4), y=np.array([0.0, 1.5, 0.0, 1.0]), split=np.array([0, 1] * 2)), "whole"),
    "nan labels": (dict(x=_images(4), y=np.array([0.0, np.nan, 0.0, 1.0]), split=np.array([0, 1] * 2)), "whole"),
    "string labels": (dict(x=_images(4), y=np.array(["a", "b", "a", "b"]), split=np.array([0, 1] * 2)), "integers"),
    "one-hot labels": (dict(x=_images(4), y=np.eye(2)[[0, 1, 0, 1]], split=np.array([0, 1] * 2)), "argmax"),
    "a huge label": (dict(x=_images(4), y=np.array([0, 1, 0, 10**12]), split=np.array([0, 1] * 2)), "classes"),
    "images of rank 2": (dict(x=np.zeros((4, 8), np.uint8), y=np.arange(4) % 2, split=np.array([0, 1] * 2)), "(N, H, W[, C])"),
    "an image side of zero": (dict(x=np.zeros((4, 0, 8, 3), np.uint8), y=np.arange(4) % 2, split=np.array([0, 1] * 2)), "empty"),
    "int64 pixels": (dict(x=np.zeros((4, 8, 8), np.int64), y=np.arange(4) % 2, split=np.array([0, 1] * 2)), "uint8"),
    "labels of rank 0": (dict(x=_images(4), y=np.array(1), split=np.array([0, 1] * 2)), "(N,)"),
}


@pytest.mark.parametrize("arrays, fragment", BAD_NPZ.values(), ids=BAD_NPZ.keys())
def test_bad_npz_is_one_user_error_naming_the_problem(tmp_path: Path, arrays, fragment: str) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(UserError, match=str(path)) as info:
        load_dataset(f"npz:{path}")
    assert fragment in str(info.value)


def test_an_empty_test_file_of_two_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "tr.npz", x=_images(4), y=np.arange(4) % 2)
    np.savez(tmp_path / "te.npz", x=_images(0), y=np.zeros(0, np.int64))
    with pytest.raises(UserError, match="te.npz: no examples"):
        load_dataset(f"npz:{tmp_path / 'tr.npz'},{tmp_path / 'te.npz'}")


def test_float_labels_that_are_whole_numbers_are_read_as_classes(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=_images(4), y=np.array([0.0, 1.0, 0.0, 1.0]), split=np.array([0, 1] * 2))
    data = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert data.num_classes == 2 and sorted(data.train.y.tolist()) == [0, 0]


def test_a_corrupt_image_in_an_imagefolder_is_named(tmp_path: Path) -> None:
    from PIL import Image

    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(tmp_path / split / cls / "0.png")
    (tmp_path / "train" / "dog" / "1.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match=r"train/dog/1.png.*not a readable image"):
        load_dataset(f"imagefolder:{tmp_path}")


def test_a_malformed_tinyimagenet_annotation_is_named(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "wnids.txt").write_text("n01\n")
    (tmp_path / "train" / "n01" / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(tmp_path / "train" / "n01" / "images" / "a.png")
    (tmp_path / "val" / "images").mkdir(parents=True)
    (tmp_path / "val" / "val_annotations.txt").write_text("val_0.png\tn99\t0\t0\t6\t6\n")
    with pytest.raises(UserError, match="n99"):
        load_dataset(f"tinyimagenet:{tmp_path}")


def test_cli_data_with_a_bad_label_exits_2_in_one_line(tmp_path: Path, capsys) -> None:
    arrays, _ = BAD_NPZ["a label of -1"]
    np.savez(tmp_path / "d.npz", **arrays)
    assert main(["data", f"npz:{tmp_path / 'd.npz'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_run_on_a_dataset_with_a_bad_label_exits_2_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    arrays, _ = BAD_NPZ["a label of -1"]
    np.savez(tmp_path / "d.npz", **arrays)
    assert main(["run", "--dataset", "npz:d.npz", "--attack", "pgd", "--n", "2", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]
