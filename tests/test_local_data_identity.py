"""A local dataset belongs to a run's identity by its contents; ``--dataset npz:TRAIN,TEST`` is one dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.data import split_dataset_names
from bench.spec import load_spec

FLAGS = ["--attack", "pgd", "--n", "4", "--device", "cpu", "--set", "attack_params.pgd.steps=1",
         "--set", "recipe_params.natural.epochs=1"]


def _write(path: Path, seed: int, n: int = 40) -> None:
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), y=np.arange(n) % 2,
             split=np.array([0, 0, 0, 1] * (n // 4)))


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_changed_npz_is_refused_like_a_changed_checkpoint(workdir, capsys) -> None:
    _write(workdir / "d.npz", seed=0)
    spec = workdir / "s.toml"
    spec.write_text('datasets = ["npz:d.npz"]\n')
    assert main(["run", str(spec), "--name", "s", *FLAGS]) == 0
    rows_before = (workdir / "results" / "s.sqlite").read_bytes()

    _write(workdir / "d.npz", seed=1)
    capsys.readouterr()
    assert main(["run", str(spec), "--name", "s", *FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the contents of npz:d.npz" in err
    assert (workdir / "results" / "s.sqlite").read_bytes() == rows_before


def test_the_spec_digest_follows_the_files_not_their_names(workdir) -> None:
    _write(workdir / "a.npz", seed=0)
    _write(workdir / "b.npz", seed=1)
    digest = lambda name: load_spec(overrides={"datasets": [f"npz:{name}"]}).identity()["data"]  # noqa: E731
    assert list(digest("a.npz").values()) != list(digest("b.npz").values())
    (workdir / "c.npz").write_bytes((workdir / "a.npz").read_bytes())
    assert list(digest("c.npz").values()) == list(digest("a.npz").values())
    assert "data" not in load_spec().identity()  # named datasets keep the digests they had


@pytest.mark.parametrize("text, names", [
    ("npz:tr.npz,te.npz", ["npz:tr.npz,te.npz"]),
    ("mnist5k,npz:tr.npz,te.npz", ["mnist5k", "npz:tr.npz,te.npz"]),
    ("npz:tr.npz,te.npz,mnist5k", ["npz:tr.npz,te.npz", "mnist5k"]),
    ("npz:a.npz,npz:b.npz", ["npz:a.npz", "npz:b.npz"]),
    ("npz:a.npz,mnist5k", ["npz:a.npz", "mnist5k"]),
    ("mnist5k,cifar10", ["mnist5k", "cifar10"]),
])
def test_dataset_lists_split_at_commas_but_keep_two_file_npz_whole(text, names) -> None:
    assert split_dataset_names(text) == names


def test_the_two_file_npz_flag_plans_one_dataset(workdir, capsys) -> None:
    _write(workdir / "tr.npz", seed=0)
    _write(workdir / "te.npz", seed=1)
    assert main(["run", "--dataset", "npz:tr.npz,te.npz", "--dry-run", *FLAGS]) == 0
    assert "4 jobs" in capsys.readouterr().out
    assert load_spec(overrides={"datasets": "npz:tr.npz,te.npz"}).blocks[0].datasets == ("npz:tr.npz,te.npz",)
