"""The report's header says what actually ran: the resolved spec with the command line's overrides named, the spec
file as written second; and every session, a bare ``python run_bench.py`` included, has its command."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path

import pytest

import bench.cli
from bench.cli import main

SPEC = """
name = "filed"
description = "as filed: none and aid on 30 examples"
n = 30
device = "cpu"
threads = 1
recipes = ["natural"]
defenses = ["none", "aid"]
attacks = ["pgd"]
threats = ["oblivious"]
[recipe_params.natural]
epochs = 1
batch_size = 256
[defense_params.aid]
epochs = 1
train_steps = 2
width = 64
batch_size = 256
steps = 3
[attack_params.pgd]
steps = 2
"""


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "filed.toml").write_text(SPEC)
    return tmp_path


def _header(index: Path) -> str:
    return re.search(r"<header>(.*?)</header>", index.read_text(), re.S).group(1)


def _matrix_rows(header: str) -> list[list[str]]:
    table = re.search(r'id="t-provenance-matrix".*?<tbody>(.*?)</tbody>', header, re.S).group(1)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


def _sessions(path: Path) -> list[list[str]]:
    with sqlite3.connect(path) as conn:
        return [json.loads(argv) for (argv,) in conn.execute("SELECT argv FROM sessions ORDER BY id")]


def test_the_header_shows_the_overridden_n_and_stacks_and_names_the_overrides(workdir, capsys):
    assert main(["run", "filed.toml", "--n", "12", "--defense", "none", "--set", "attack_params.pgd.steps=1", "--report"]) == 0
    index = next(workdir.glob("reports/*/index.html"))
    header = _header(index)
    ran = header.split("<details>")[0]  # what ran, before the folded spec file
    assert "<b>n (first test examples)</b> 12" in ran
    assert [row[4] for row in _matrix_rows(header)] == ["none"]  # the stacks that ran, not the file's "none, aid"
    overrides = re.search(r'class="overrides">(.*?)</p>', ran, re.S).group(1)
    assert re.findall(r"<code>(.*?)</code>", overrides) == ["attack_params.pgd.steps = 1", "defenses = none", "n = 12"]
    assert "as filed" not in ran  # the file's description describes the file, not this run
    spec_file = re.search(r'<details id="spec-file">(.*?)</details>', header, re.S).group(1)
    assert "before the overrides above" in spec_file and "as filed: none and aid on 30 examples" in spec_file
    assert "defenses = [&#34;none&#34;, &#34;aid&#34;]" in spec_file


def test_a_run_without_overrides_shows_its_description_and_no_override_line(workdir, capsys):
    assert main(["run", "filed.toml", "--report"]) == 0
    header = _header(next(workdir.glob("reports/*/index.html")))
    assert "as filed: none and aid on 30 examples" in header.split('<section id="what-ran">')[0]
    assert 'class="overrides"' not in header
    assert [row[4] for row in _matrix_rows(header)] == ["none, aid"]


def test_a_session_started_with_no_arguments_records_its_command(workdir, capsys, monkeypatch):
    monkeypatch.setattr(bench.cli, "QUICK_SPEC", workdir / "filed.toml")  # the main job's path, on a spec that runs in seconds
    monkeypatch.setattr(sys, "argv", ["run_bench.py"])
    assert main() == 0
    assert _sessions(workdir / "results" / "filed.sqlite") == [["run_bench.py"]]
    index = workdir / "reports" / "filed" / "index.html"
    sessions = re.search(r'id="t-provenance-sessions".*?<tbody>(.*?)</tbody>', index.read_text(), re.S).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", sessions)[-1] == "run_bench.py"
