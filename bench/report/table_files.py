"""Each report table as CSV, Markdown and LaTeX files beside index.html.

Every format carries the marks the HTML shows, in the form it can: the best
value of a block in bold (Markdown ``**``, LaTeX ``\\textbf``), an upper bound
of a partial row as "<= x" (Markdown "≤", LaTeX ``$\\leq$``), and, in CSV,
which keeps the numbers as they are, a ``Marks`` column naming them.  Markdown
and LaTeX escape what their readers would take as markup (``<``, ``&``,
``|``; LaTeX's specials), so a name from a spec stays text there too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.atomic import write_text_atomic
from bench import latex
from bench.report.model import BEST, MISSING, PARTIAL, ReportTable
from bench.report.view import html_columns, numeric_columns, shown

FORMATS = {"csv": "CSV", "md": "Markdown", "tex": "LaTeX"}
MARKS_COLUMN = "Marks"
MARK_WORDS = {BEST: "best of block", PARTIAL: "upper bound (row lacks results)", MISSING: "no result"}
_MARKDOWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "\\|", "\n": " "})


def _md(text: str, mark: str) -> str:
    escaped = str(text).translate(_MARKDOWN)
    return f"**{escaped}**" if mark == BEST and escaped else escaped


def _tex(text: str, mark: str) -> str:
    escaped = latex.escape(text)
    return rf"\textbf{{{escaped}}}" if mark == BEST and escaped else escaped


def _cells(table: ReportTable, style) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Each row's shown cells (section column left out), styled by ``style(text, mark)``."""
    columns = html_columns(table)
    return [[style(*shown(table, position, c, record[c])[:2]) for c in columns]
            for position, record in enumerate(table.frame.to_dict("records"))]


def _sections(table: ReportTable) -> list[str | None]:
    return [str(s) for s in table.frame[table.section]] if table.section is not None else []


def to_markdown(table: ReportTable) -> str:
    columns = html_columns(table)
    lines = [f"**{table.title.translate(_MARKDOWN)}**", "", table.note.translate(_MARKDOWN), "",
             "| " + " | ".join(str(c).translate(_MARKDOWN) for c in columns) + " |",
             "|" + "|".join("---:" if c in numeric_columns(table) else "---" for c in columns) + "|"]
    sections, section = _sections(table), None
    for i, row in enumerate(_cells(table, _md)):
        if sections and sections[i] != section:
            section = sections[i]
            lines.append("| " + " | ".join([f"*{section.translate(_MARKDOWN)}*"] + [""] * (len(columns) - 1)) + " |")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _grouped(table: ReportTable, columns: list[str]) -> tuple[int, ...]:
    """The label columns left of the first number column that group rows (shown once per run of equal values)."""
    numeric = numeric_columns(table)
    first = next((i for i, c in enumerate(columns) if c in numeric), len(columns))
    return tuple(range(max(first - 1, 0))) if first > 1 else ()


def to_latex(table: ReportTable) -> str:
    columns = html_columns(table)
    numeric = numeric_columns(table)
    return latex.render(latex.LatexTable(
        header=columns, rows=_cells(table, _tex), numeric=[c in numeric for c in columns],
        caption=latex.caption_text(table.title), label=f"tab:{table.key}", sections=_sections(table),
        column_groups=table.column_groups, grouped=_grouped(table, columns)))


def to_csv(table: ReportTable) -> str:
    """The numbers as they are, and a ``Marks`` column naming each marked cell's mark (when any cell has one)."""
    frame = table.frame.copy()
    if table.marks:
        order = {c: i for i, c in enumerate(frame.columns)}
        marks: dict[int, list[str]] = {}
        for (position, column), mark in sorted(table.marks.items(), key=lambda m: (m[0][0], order.get(m[0][1], 0))):
            marks.setdefault(position, []).append(f"{column}: {MARK_WORDS.get(mark, mark)}")
        frame[MARKS_COLUMN] = pd.Series({i: "; ".join(m) for i, m in marks.items()}, index=frame.index, dtype=object).fillna("")
    return frame.to_csv(index=False)


def write_table_files(table: ReportTable, out_dir: Path) -> dict[str, str]:
    """Write the three files of ``table``; returns {extension: file name}."""
    texts = {"csv": to_csv(table), "md": to_markdown(table), "tex": to_latex(table)}
    for extension, text in texts.items():
        write_text_atomic(out_dir / f"{table.key}.{extension}", text)
    return {extension: f"{table.key}.{extension}" for extension in texts}
