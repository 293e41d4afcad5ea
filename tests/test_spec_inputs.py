"""Bad spec files, flags and names: each is one line on stderr, exit status 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import UserError

DEEP = "a = " + "[" * 3000 + "]" * 3000 + "\n"
BAD_SPECS = {
    "random bytes": bytes(range(128, 256)) * 4,
    "nested 3000 deep": DEEP.encode(),
    "n as a string": b'n = "20"\n',
    "name with a newline": b'name = "abc\\n"\n',
    "a name of 250 characters": f'name = "{"a" * 250}"\n'.encode(),
    "matrix of the wrong type": b"matrix = 3\n",
    "attack_params of the wrong type": b"attack_params = 3\n",
    "L-inf eps far above 1": b'eps = [8]\nattacks = ["pgd"]\n',
    "L-inf eps of an attack far above 1": b'attacks = ["pgd"]\n[attack_params.pgd]\neps = 8\n',
    "use of the wrong type": b'attacks = ["pgd"]\n[attack_params.pgd]\nuse = []\n',
}
FLAGS_ON_BAD_SPECS = {
    "matrix = 3 with --n": (b"matrix = 3\n", ["--n", "20"]),
    "attack_params = 3 with --eps": (b"attack_params = 3\n", ["--eps", "0.1"]),
    "matrix = [] with --set matrix.x": (b"", ["--set", "matrix=[1]", "--set", "matrix.attacks=pgd"]),
    "--set deeply nested": (b"", ["--set", "seed=" + "[" * 3000 + "]" * 3000]),
    "--eps 8 for pgd": (b'attacks = ["pgd"]\n', ["--eps", "8"]),
}
BAD_FLAGS = {  # refused by a dry run as by a run
    "--workers 0": (b"", ["--workers", "0"]),
    "--workers 0 over a spec's workers": (b"workers = 1\n", ["--workers", "0"]),
    "--ray-address without --executor ray": (b"", ["--ray-address", "localhost:6379"]),
}
BAD_NAMES = {"trailing newline": "abc\n", "250 characters": "a" * 250, "a slash": "a/b", "empty": ""}


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _exits_2_in_one_line(argv: list[str], capsys, workdir: Path) -> str:
    before = sorted(p.name for p in workdir.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err[:2000]
    assert sorted(p.name for p in workdir.rglob("*")) == before
    return err


@pytest.mark.parametrize("content", BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_a_bad_spec_file_is_one_line(workdir, capsys, content: bytes) -> None:
    (workdir / "s.toml").write_bytes(content)
    _exits_2_in_one_line(["run", "s.toml", "--dry-run"], capsys, workdir)


@pytest.mark.parametrize("content, flags", FLAGS_ON_BAD_SPECS.values(), ids=FLAGS_ON_BAD_SPECS.keys())
def test_flags_on_a_spec_of_the_wrong_shape_are_one_line(workdir, capsys, content: bytes, flags: list[str]) -> None:
    (workdir / "s.toml").write_bytes(content)
    _exits_2_in_one_line(["run", "s.toml", *flags, "--dry-run"], capsys, workdir)


@pytest.mark.parametrize("content, flags", BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_a_bad_flag_is_one_line(workdir, capsys, content: bytes, flags: list[str]) -> None:
    (workdir / "s.toml").write_bytes(content)
    _exits_2_in_one_line(["run", "s.toml", *flags, "--dry-run"], capsys, workdir)


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_a_bad_run_name_is_refused(workdir, capsys, name: str) -> None:
    err = _exits_2_in_one_line(["run", "--name", name, "--attack", "pgd", "--n", "2"], capsys, workdir)
    assert "--name" in err


def test_the_message_of_a_deeply_nested_spec_names_the_nesting(workdir, capsys) -> None:
    (workdir / "s.toml").write_text(DEEP)
    assert "nested" in _exits_2_in_one_line(["run", "s.toml"], capsys, workdir)


def test_an_eps_above_1_for_an_l2_attack_is_accepted(workdir) -> None:
    from bench.spec import load_spec

    spec = load_spec(overrides={"attacks": ["cw"], "eps": "2.0"})
    assert spec.default_eps == (2.0,)


def test_a_negative_seed_is_refused_by_train_and_load_classifier(workdir, capsys) -> None:
    import bench

    _exits_2_in_one_line(["train", "--dataset", "mnist5k", "--arch", "smallcnn", "--recipe", "natural", "--seed", "-1"],
                         capsys, workdir)
    with pytest.raises(UserError, match="seed"):
        bench.load_classifier("mnist5k", "smallcnn", "natural", seed=-1)


def test_a_line_break_in_a_user_value_stays_on_the_one_error_line(workdir, capsys) -> None:
    err = _exits_2_in_one_line(["run", "abc\n", "--dry-run"], capsys, workdir)
    assert "abc\\n" in err
