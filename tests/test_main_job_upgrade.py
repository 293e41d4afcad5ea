"""``python run_bench.py`` after configs/quick.toml changed: the older database moves aside, with a note."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cli import QUICK_SPEC, main
from bench.spec import load_spec
from bench.store import Store, read_run


class Stopped(Exception):
    """Raised by the stand-in run_spec: the test needs the state just before the run, not the 14-minute run."""


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def stop(spec, options):
        raise Stopped

    monkeypatch.setattr("bench.cli.run_spec", stop)
    return tmp_path


def _database(path: Path, digest: str) -> None:
    store = Store(path)
    store.register_run(name="quick", spec_digest=digest, spec_json="{}", spec_text="", seed=0, n=None, device="cpu")
    store.close()


def test_an_older_quick_database_is_moved_aside(workdir, capsys) -> None:
    old = workdir / "results" / "quick.sqlite"
    _database(old, "0" * 24)
    with pytest.raises(Stopped):
        main([])
    moved = workdir / "results" / "quick-000000000000.sqlite"
    assert not old.exists() and read_run(moved)["spec_digest"] == "0" * 24
    assert f"moved them to {Path('results') / moved.name}" in capsys.readouterr().err
    assert sorted(p.name for p in (workdir / "results").iterdir()) == [moved.name]


def test_the_current_quick_database_stays_to_be_resumed(workdir, capsys) -> None:
    current = workdir / "results" / "quick.sqlite"
    _database(current, load_spec(QUICK_SPEC).digest())
    with pytest.raises(Stopped):
        main([])
    assert read_run(current)["spec_digest"] == load_spec(QUICK_SPEC).digest() and "moved" not in capsys.readouterr().err

