"""The core CLI commands: list, data, train, and one-line errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_list_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "recipes"]) == 0
    assert capsys.readouterr().out.split() == ["avmixup", "madry", "natural", "trades"]


def test_data_prints_sizes_shape_and_classes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "mnist5k"]) == 0
    out = capsys.readouterr().out
    assert "train        4000" in out and "test         1000" in out and "1x28x28" in out and "classes      10" in out


def test_train_prints_accuracy_time_and_checkpoint(capsys: pytest.CaptureFixture[str], isolated_cache: Path) -> None:
    assert main(["train", "--dataset", "mnist5k", "--arch", "lenet", "--recipe", "natural", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    checkpoint = Path(out.split("checkpoint: ")[1].strip())
    assert checkpoint.is_file() and checkpoint.is_relative_to(isolated_cache)
    assert "clean accuracy 0." in out and "(trained now)" in out
    assert main(["train", "--dataset", "mnist5k", "--arch", "lenet", "--recipe", "natural", "--device", "cpu"]) == 0
    assert "(from the cache)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["data", "nosuchset"], "unknown datasets 'nosuchset'; valid names:"),
        (["train", "--dataset", "mnist5k", "--arch", "nosucharch", "--recipe", "natural"], "unknown archs 'nosucharch'"),
        (["train", "--dataset", "mnist5k", "--arch", "smallcnn", "--recipe", "natural", "--seed", "x"], "invalid int value"),
        (["list", "nothing"], "invalid choice"),
        (["data", "npz:/no/such/file.npz"], "does not exist"),
    ],
)
def test_user_errors_are_one_line_exit_2_and_write_nothing(args: list[str], fragment: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PUREBENCH_CACHE": str(tmp_path / "cache"), "PUREBENCH_OFFLINE": "1", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "run_bench.py", *args], cwd=REPO, capture_output=True, text=True, env=env)
    assert out.returncode == 2, out.stderr
    assert fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""
    assert not (tmp_path / "cache").exists()
