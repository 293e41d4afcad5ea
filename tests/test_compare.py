"""``compare``: one leaderboard across results databases, and its refusal of rows measured differently."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from bench.cli import main
from bench.compare import MismatchError, leaderboard
from test_report import Cell, SyntheticRun, write_run

T, F = True, False


def _run(name: str, defenses: dict[str, tuple[list[bool], list[bool]]], eps: float = 0.3) -> SyntheticRun:
    cells = []
    for defense, (clean, pgd) in defenses.items():
        cells += [Cell("madry", defense, "clean", clean), Cell("madry", defense, "pgd", pgd, eps=eps)]
    return SyntheticRun(cells, name=name)


@pytest.fixture()
def two_runs(tmp_path):
    first = write_run(tmp_path / "first.sqlite", _run("first", {"none": ([T, T, T, F], [T, F, F, F]),
                                                                 "aid": ([T, T, T, F], [T, T, F, F])}))
    second = write_run(tmp_path / "second.sqlite", _run("second", {"none": ([T, T, T, F], [T, F, F, F]),
                                                                    "mine": ([T, T, T, T], [T, T, T, F])}))
    return first, second


def test_leaderboard_across_two_databases(two_runs):
    board = leaderboard(two_runs)
    assert board["defense"].tolist() == ["mine", "aid", "none"]  # best worst case first; 'none' once (the first database's)
    mine = board.iloc[0]
    assert (mine["clean"], mine["worst"], mine["worst_paper"], mine["n"]) == (100.0, 75.0, 75.0, 4)
    assert mine["worst_ci_low"] < 75.0 < mine["worst_ci_high"] and mine["run"] == "second"
    assert board.set_index("defense").loc["none", "database"] == str(two_runs[0])
    assert (board["audit"] == "no audit").all()  # said, not left blank
    assert set(board["threats"]) == {"oblivious"} and set(board["results"]) == {2}  # what each worst case covers


def test_audit_verdicts_are_read_where_an_audit_ran(two_runs):
    conn = sqlite3.connect(two_runs[1])  # the store's audit table, as bench.auditing writes it
    conn.executemany('INSERT INTO audit (job_key, part, dataset, arch, recipe, seed, defense, n, classifier_key, "check", '
                     "verdict, evidence) VALUES (?, 'declared', ?, ?, ?, ?, ?, 4, 'k', ?, ?, '')",
                     [("a", "mnist5k", "smallcnn", "madry", 0, "mine", "gradients", "pass"),
                      ("a", "mnist5k", "smallcnn", "madry", 0, "mine", "randomness", "warn"),
                      ("a", "mnist5k", "smallcnn", "madry", 0, "mine", "transfer", "skipped")])
    conn.commit()
    conn.close()
    board = leaderboard(two_runs).set_index("defense")
    assert board.loc["mine", "audit"] == "warn" and board.loc["aid", "audit"] == "no audit"


def test_different_eps_are_refused_unless_allowed(tmp_path, two_runs, capsys):
    other = write_run(tmp_path / "other.sqlite", _run("other", {"none": ([T, T, T, F], [T, T, F, F])}, eps=0.2))
    with pytest.raises(MismatchError, match=r"eps of pgd/oblivious: 0.3 against 0.2.*--allow-mismatch"):
        leaderboard([two_runs[0], other])
    out = tmp_path / "board"
    assert main(["compare", str(two_runs[0]), str(other), "-o", str(out)]) == 2
    assert "measured mnist5k differently" in capsys.readouterr().err and not out.exists()  # nothing written
    assert main(["compare", str(two_runs[0]), str(other), "-o", str(out), "--allow-mismatch"]) == 0
    assert len(pd.read_csv(out / "leaderboard.csv")) == 2  # none from the first database, aid


def test_compare_writes_csv_markdown_and_latex(tmp_path, two_runs, capsys):
    out = tmp_path / "board"
    assert main(["compare", *map(str, two_runs), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith("| Dataset | Classifier | Defense | n | Clean | Clean 95% CI | Worst |")
    assert "| mnist5k | smallcnn/madry/seed0 | mine | 4 | 100.0 |" in printed
    assert {p.name for p in out.iterdir()} == {"leaderboard.csv", "leaderboard.md", "leaderboard.tex"}
    tex = (out / "leaderboard.tex").read_text()
    assert "\\begin{tabular}" in tex and "Worst (paper columns)" in tex and "seed0" in tex
    assert pd.read_csv(out / "leaderboard.csv")["defense"].tolist() == ["mine", "aid", "none"]
