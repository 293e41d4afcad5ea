"""The command line of the matrix runner: run, dry runs, exit codes, export and report, the shipped configs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.cli import main
from defenses import DEFENSES, Defense

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = """
name = "tiny"
n = 30
device = "cpu"
recipes = ["natural"]
defenses = {defenses}
attacks = ["pgd"]
threats = ["oblivious"]
[recipe_params.natural]
epochs = 1
batch_size = 256
[attack_params.pgd]
steps = 2
"""


class BrokenFit(Defense):
    """A defense whose fit always fails (to test that a failure does not stop the matrix)."""

    def fit(self, ctx) -> None:
        raise RuntimeError("boom in fit")

    def purify(self, x):
        return x


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_spec(path: Path, defenses: str = '["none"]') -> Path:
    path.write_text(TINY.format(defenses=defenses))
    return path


def test_list_threats(capsys):
    assert main(["list", "threats"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [
        "adaptive", "auxaware", "blackbox", "oblivious", "transfer"]


@pytest.mark.parametrize("argv", [
    ["run", "--attack", "nope"],
    ["run", "--defense", "nosuchpurifier+aid"],
    ["run", "--eps", "-1"],
    ["run", "--threat", "transfer"],
    ["run", "missing.toml"],
    ["run", "--set", "attack_params.pgd.stepz=3"],
    ["run", "--executor", "local", "--ray-address", "127.0.0.1:6379"],
    ["export", "nothing.sqlite", "--format", "csv"],
    ["run", "--jobs"],
])
def test_user_errors_exit_2_with_one_line_and_write_nothing(workdir, isolated_cache, capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert list(workdir.iterdir()) == [] and list(isolated_cache.iterdir()) == []


def test_dry_run_prints_the_plan_and_writes_nothing(workdir, isolated_cache, capsys):
    spec = write_spec(workdir / "tiny.toml", '["none", "aid"]')
    assert main(["run", str(spec), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "results/tiny.sqlite" in out and "saved by reuse" in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert rows["train"][0] == "1" and rows["fit"][0] == "1" and rows["craft"] == ["1", "1", "0", "1"]
    assert rows["evaluate"][0] == "4"
    assert sorted(p.name for p in workdir.iterdir()) == ["tiny.toml"] and list(isolated_cache.iterdir()) == []


def test_main_job_plans_the_quick_config(workdir, capsys):
    assert main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan of quick") and "results/quick.sqlite" in out
    assert not (workdir / "results").exists()


def test_a_failing_job_is_recorded_and_the_rest_goes_on(workdir, capsys, monkeypatch):
    DEFENSES.names()  # load plugins before patching the table
    monkeypatch.setitem(DEFENSES._factories, "brokenfit", lambda **p: BrokenFit(**p))
    spec = write_spec(workdir / "tiny.toml", '["none", "brokenfit"]')
    db = workdir / "out.sqlite"
    assert main(["run", str(spec), "--results", str(db)]) == 1
    captured = capsys.readouterr()
    assert "boom in fit" in captured.err and f"results: {db}" in captured.out
    conn = sqlite3.connect(db)
    status = dict(conn.execute("SELECT kind || ':' || status, COUNT(*) FROM jobs GROUP BY 1").fetchall())
    assert status == {"train:done": 1, "fit:failed": 1, "craft:done": 1, "evaluate:done": 2, "evaluate:skipped": 2}
    first_session = dict(conn.execute("SELECT key, session_id FROM jobs WHERE status = 'done'").fetchall())

    assert main(["run", str(spec), "--results", str(db)]) == 1  # rerun: only the failed and skipped jobs run again
    assert "(1 run now)" in capsys.readouterr().out
    again = dict(conn.execute("SELECT key, session_id FROM jobs WHERE status = 'done'").fetchall())
    assert again == first_session

    assert main(["export", str(db), "--format", "csv", "-o", str(workdir / "out.csv")]) == 0
    lines = (workdir / "out.csv").read_text().splitlines()
    assert lines[0].startswith("dataset,arch,recipe,defense,attack,threat,eps,lam,source,n,accuracy,ci_low,ci_high,seconds")
    assert len(lines) == 3
    assert main(["report", str(db), "-o", str(workdir / "report")]) == 0
    assert (workdir / "report").is_dir() and any((workdir / "report").iterdir())


def test_resuming_with_another_spec_is_refused(workdir, capsys):
    from bench.store import Store

    db = workdir / "other.sqlite"
    store = Store(db)
    store.register_run(name="x", spec_digest="0" * 24, spec_json="{}", spec_text="", seed=0, n=1, device="cpu")
    store.close()
    before = db.read_bytes()
    assert main(["run", str(write_spec(workdir / "tiny.toml")), "--results", str(db)]) == 2
    assert "different spec" in capsys.readouterr().err
    assert db.read_bytes() == before


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_validate_or_name_the_missing_plugin(config):
    from bench.spec import SpecError, load_spec

    try:
        spec = load_spec(config)
    except SpecError as exc:
        assert "is not registered" in str(exc) or "entry-point group purebench." in str(exc), str(exc)
    else:
        assert spec.name == config.stem
