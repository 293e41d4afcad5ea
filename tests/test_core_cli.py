"""The core CLI commands: list, data, train, and one-line errors with exit status 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main

REPO = Path(__file__).resolve().parents[1]


def test_list_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["avmixup", "madry", "natural", "trades"]
    assert "PGD adversarial training" in lines[1]


def test_list_describes_each_defense_with_its_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "defenses"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "[deterministic, not differentiable] AID-Purifier" in lines["aid"]
    assert "[randomized, differentiable]" in lines["dir"] and "[deterministic, differentiable]" in lines["none"]
    assert main(["list", "attacks"]) == 0
    assert all(len(line.split(maxsplit=1)) == 2 for line in capsys.readouterr().out.splitlines())  # a description each


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and re.fullmatch(r"run_bench.py purebench \S+\n", capsys.readouterr().out)


def test_data_prints_sizes_shape_and_classes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "mnist5k"]) == 0
    out = capsys.readouterr().out
    assert "train        4000" in out and "test         1000" in out and "1x28x28" in out and "classes      10" in out


def test_train_prints_accuracy_time_and_checkpoint(capsys: pytest.CaptureFixture[str], isolated_cache: Path) -> None:
    assert main(["train", "--dataset", "mnist5k", "--arch", "lenet", "--recipe", "natural", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    checkpoint = Path(out.split("checkpoint: ")[1].strip())
    assert checkpoint.is_file() and checkpoint.is_relative_to(isolated_cache)
    assert re.search(r"clean accuracy \d{1,3}\.\d\d%", out) and "(trained now)" in out  # percent, as every report
    assert main(["train", "--dataset", "mnist5k", "--arch", "lenet", "--recipe", "natural", "--device", "cpu"]) == 0
    assert "(from the cache)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["data", "nosuchset"], "unknown datasets 'nosuchset'; valid names:"),
        (["train", "--dataset", "mnist5k", "--arch", "nosucharch", "--recipe", "natural"], "unknown archs 'nosucharch'"),
        (["train", "--dataset", "mnist5k", "--arch", "smallcnn", "--recipe", "natural", "--seed", "x"], "invalid int value"),
        (["list", "nothing"], "invalid choice"),
        (["data", "mnist"], "unknown datasets 'mnist' (did you mean 'mnist5k'?); valid names:"),
        (["run", "--attack", "pgd", "--set", "attack_params.pgd.stepz=3", "--dry-run"],
         "'pgd' has no parameter 'stepz' (did you mean 'steps' or 'step_size'?); its parameters: loss, norm, "),
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
