"""Exports a researcher pastes: the reader's columns, LaTeX that compiles, marks carried into every format,
honest names for a reduced AutoAttack."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from bench.cli import main
from bench.attack_names import attack_column
from bench.export import READER_COLUMNS, export
from bench.report import render_report
from bench.latex import caption_text, escape
from test_report import Cell, SyntheticRun, full_run, hand_run, write_run

PDFLATEX = shutil.which("pdflatex")
DOCUMENT = "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n\\begin{document}\n%s\n\\end{document}\n"


def compiles(tex: str, workdir: Path) -> None:
    """``tex`` typeset in a minimal document by pdflatex, which stops at the first error."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "doc.tex").write_text(DOCUMENT % tex)
    done = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=workdir,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (workdir / "doc.pdf").stat().st_size > 1000


def check_structure(tex: str, columns: int) -> None:
    """What a booktabs table needs, checked without LaTeX: rules, label, one cell per column, no bare specials."""
    assert tex.count("\\toprule") == tex.count("\\bottomrule") == 1 and "\\midrule" in tex
    assert re.search(r"\\label\{tab:[A-Za-z0-9_.-]+\}", tex)
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
    assert len(spec) == columns
    body = tex[tex.index("\\toprule"):tex.index("\\bottomrule")]
    for line in body.splitlines():
        if line.endswith("\\\\") and "\\multicolumn" not in line:
            assert len(re.split(r"(?<!\\)&", line)) == columns, line
    text = re.sub(r"\\[A-Za-z]+|\\[&%$#_{}]", "", body)
    assert not re.search(r"[_#%$^~]", text), "an unescaped special character"


def test_export_writes_the_reader_columns_unless_all_are_asked_for(tmp_path):
    db = write_run(tmp_path / "r.sqlite", hand_run())
    frame = pd.read_csv(io.StringIO(export(db, "csv")))
    assert list(frame.columns) == list(READER_COLUMNS)
    assert not {"job_key", "classifier_key", "advset_key", "finished"} & set(frame.columns)
    full = pd.read_csv(io.StringIO(export(db, "csv", all_columns=True)))
    assert {"job_key", "classifier_key", "advset_key", "finished"} <= set(full.columns)
    assert list(full.columns[: len(frame.columns)]) == list(frame.columns)
    out = tmp_path / "all.csv"
    assert main(["export", str(db), "--format", "csv", "--all-columns", "-o", str(out)]) == 0
    assert "job_key" in out.read_text().splitlines()[0]


def test_latex_export_of_a_run_compiles(tmp_path):
    db = write_run(tmp_path / "r.sqlite", hand_run())
    tex = export(db, "latex")
    columns = len(pd.read_csv(io.StringIO(export(db, "csv"))).columns)
    check_structure(tex, columns)
    assert "job\\_key" not in tex and "\\_" not in tex.split("\\midrule")[1].split("&")[0]
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", tex).group(1)
    header = [c.strip().replace("\\_", "_") for c in tex.split("\\toprule")[1].split("\\\\")[0].split("&")]
    assert {h for h, a in zip(header, spec) if a == "r"} >= {"eps", "n", "accuracy", "seconds"}
    assert {h for h, a in zip(header, spec) if a == "l"} >= {"dataset", "defense", "attack"}
    rows = [line for line in tex.split("\\midrule")[1].splitlines() if line.endswith("\\\\")]
    assert rows[0].startswith("mnist5k & smallcnn & natural & none") and rows[1].startswith(" &  &  &  & pgd")
    if PDFLATEX is None:
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended); structure checked")
    compiles(tex, tmp_path / "latex")


def test_report_latex_tables_compile_with_the_papers_grouping(tmp_path):
    out = render_report(write_run(tmp_path / "r.sqlite", full_run(defense_label="aid_x")), tmp_path / "out").parent
    table3 = (out / "mnist5k-table3.tex").read_text()
    assert "\\caption{Robust accuracy per attack" in table3 and "Table 3:" not in table3
    assert "\\label{tab:mnist5k-table3}" in table3
    assert table3.count("Stand-alone (natural training)") == 1 and table3.count("Add-on (adversarially trained)") == 1
    assert table3.count("\nnatural & none") == 1 and "\n & aid\\_x &" in table3  # the classifier once per block
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", table3).group(1)
    header = re.split(r"(?<!\\)&", table3.split("\\toprule")[1].split("\\\\")[0])
    aligned = dict(zip((h.strip() for h in header), spec))
    assert aligned["Classifier"] == aligned["Defense"] == "l"
    assert {aligned[h] for h in ("Clean", "PGD", "C\\&W", "DF", "MIM", "AutoAttack", "Worst")} == {"r"}
    tables = sorted(out.glob("*.tex"))
    for path in tables:
        text = path.read_text()
        check_structure(text, len(re.search(r"\\begin\{tabular\}\{([lr]+)\}", text).group(1)))
    if PDFLATEX is None:
        pytest.skip("pdflatex not installed; structure checked")
    compiles("\n".join(p.read_text() for p in tables), tmp_path / "latex")


def test_marks_reach_every_format(tmp_path):
    out = render_report(write_run(tmp_path / "r.sqlite", hand_run(pending=True)), tmp_path / "out").parent
    md, tex = (out / "mnist5k-table3.md").read_text(), (out / "mnist5k-table3.tex").read_text()
    aid_md = next(line for line in md.splitlines() if line.startswith("| natural | aid |"))
    assert "\u2264 75.00" in aid_md and "| pending |" in aid_md  # the bound and the missing cell, not plain numbers
    assert re.search(r"\*\*\d+\.\d\d\*\*", md)  # best of block in bold
    aid_tex = next(line for line in tex.splitlines() if line.startswith(" & aid &"))
    assert "$\\leq$ 75.00" in aid_tex and "pending" in aid_tex and "\\textbf{" in tex
    with open(out / "mnist5k-table3.csv") as f:
        rows = {(r["Classifier"], r["Defense"]): r for r in csv.DictReader(f)}
    aid = rows[("natural", "aid")]
    assert aid["Worst (paper columns)"] == "75.0" and "Worst (paper columns): upper bound" in aid["Marks"] and "MIM: no result" in aid["Marks"]
    assert any("best of block" in r["Marks"] for r in rows.values())


def test_a_reduced_autoattack_is_called_custom_in_headers_and_exports(tmp_path):
    spec = {"attacks": {"autoattack": {"base": "autoattack", "params": {"n_iter": 20, "n_target_classes": 3,
                                                                         "n_queries": 300}}}}
    cells = [Cell("natural", "none", "clean", [True] * 4), Cell("natural", "none", "autoattack", [True, False, False, False]),
             Cell("natural", "none", "pgd", [True, True, False, False])]
    db = write_run(tmp_path / "r.sqlite", SyntheticRun(cells, spec=spec))
    name = "AutoAttack (custom: n_iter=20, n_queries=300, n_target_classes=3)"
    frame = pd.read_csv(io.StringIO(export(db, "csv")))
    assert frame.set_index("attack").loc["autoattack", "attack_name"] == name
    assert frame.set_index("attack").loc["pgd", "attack_name"] == "PGD"
    out = render_report(db, tmp_path / "out").parent
    with open(out / "mnist5k-table3.csv") as f:
        header = next(csv.reader(f))
    assert name in header and "AutoAttack" not in [h for h in header if h != name]
    assert escape(name) in (out / "mnist5k-table3.tex").read_text() and name in (out / "index.html").read_text()


def test_a_standard_autoattack_keeps_its_name(tmp_path):
    cells = [Cell("natural", "none", "clean", [True] * 4), Cell("natural", "none", "autoattack", [True, False, False, False])]
    db = write_run(tmp_path / "r.sqlite", SyntheticRun(cells, spec={}))
    assert set(pd.read_csv(io.StringIO(export(db, "csv")))["attack_name"]) == {"Clean", "AutoAttack"}


@pytest.mark.parametrize("title, caption", [("Table 3: robust accuracy per attack", "Robust accuracy per attack"),
                                            ("Figure 4 data: auxiliary-aware attack", "Auxiliary-aware attack"),
                                            ("Attack settings", "Attack settings")])
def test_captions_leave_numbering_to_latex(title, caption):
    assert caption_text(title) == caption


def test_flat_exports_show_percentages_as_numbers_a_reader_pastes(tmp_path):
    # 3 of 7 correct: 42.857142857142854...% and, for 0.572-like fractions, binary round-off (57.199999999999996).
    cells = [Cell("natural", "none", "clean", [True] * 7), Cell("natural", "none", "pgd", [True] * 3 + [False] * 4)]
    db = write_run(tmp_path / "r.sqlite", SyntheticRun(cells, spec={}))
    rows = [line.split(" | ") for line in export(db, "markdown").splitlines()[2:]]
    header = export(db, "markdown").splitlines()[0].strip("| ").split(" | ")
    accuracy = {row[header.index("attack")]: row[header.index("accuracy")] for row in rows}
    assert accuracy == {"clean": "100.00", "pgd": "42.86"}
    assert all(re.fullmatch(r"\d+\.\d\d", row[header.index("ci_low")]) for row in rows)


@pytest.mark.parametrize("params, name", [({}, "APGD-CE"), ({"loss": "ce"}, "APGD-CE"), ({"loss": "dlr"}, "APGD-DLR")])
def test_apgd_is_named_for_its_loss(params, name):
    assert attack_column("apgd", "apgd", params) == name
    assert attack_column("apgd50", "apgd", params) == f"apgd50 ({name})"
