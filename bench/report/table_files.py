"""Each report table as CSV, Markdown and LaTeX files beside index.html (through pandas).

CSV keeps the numbers as they are; Markdown and LaTeX show them as the HTML
does.  Both escape what their readers would take as markup (``<``, ``&``,
``|``; LaTeX's specials), so a name from a spec stays text there too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.atomic import write_text_atomic
from bench.report.model import ReportTable

FORMATS = {"csv": "CSV", "md": "Markdown", "tex": "LaTeX"}
_MARKDOWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\n": " "})
_LATEX = str.maketrans({"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"})


def _shown(table: ReportTable) -> pd.DataFrame:
    """The table's cells as display text."""
    return pd.DataFrame({c: [table.text(c, v) for v in table.frame[c]] for c in table.frame.columns}, columns=table.frame.columns)


def to_markdown(table: ReportTable) -> str:
    shown = _shown(table)
    lines = [f"**{table.title.translate(_MARKDOWN)}**", "", table.note.translate(_MARKDOWN), "",
             "| " + " | ".join(str(c).translate(_MARKDOWN) for c in shown.columns) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    lines += ["| " + " | ".join(v.translate(_MARKDOWN) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def to_latex(table: ReportTable) -> str:
    return _shown(table).to_latex(index=False, escape=True, caption=table.title.translate(_LATEX))


def write_table_files(table: ReportTable, out_dir: Path) -> dict[str, str]:
    """Write the three files of ``table``; returns {extension: file name}."""
    texts = {"csv": table.frame.to_csv(index=False), "md": to_markdown(table), "tex": to_latex(table)}
    for extension, text in texts.items():
        write_text_atomic(out_dir / f"{table.key}.{extension}", text)
    return {extension: f"{table.key}.{extension}" for extension in texts}
