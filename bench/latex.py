"""LaTeX tables that paste into a paper: booktabs rules, right-aligned numbers, escaped text, a label.

A table is given as display text (already formatted numbers) with a flag
per column saying whether it holds numbers.  Rows of one section go under a
section line (``\\multicolumn`` in italics) instead of repeating the section
in every row, and a label column (one left of the numbers) shows its value
once per run of equal values, as the paper groups its rows by classifier.
The result needs ``\\usepackage{booktabs}`` and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

_SPECIALS = str.maketrans({"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                           "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                           "<": r"\textless{}", ">": r"\textgreater{}", "\u2264": r"$\leq$", "\u2014": "---",
                           "\n": " "})
_TABLE_NUMBER = re.compile(r"^(Table|Figure)\s+\d+[a-z]?\s*(data)?\s*:\s*", re.IGNORECASE)
PREAMBLE = r"\usepackage{booktabs}"
_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")


def label(*parts: str) -> str:
    """A ``\\label`` key ``tab:...`` made of ``parts`` (characters LaTeX takes in a label only)."""
    return "tab:" + _UNSAFE_LABEL.sub("-", "-".join(parts)).strip("-")


def escape(text: str) -> str:
    """``text`` as LaTeX shows it literally (its special characters escaped)."""
    return str(text).translate(_SPECIALS)


def caption_text(title: str) -> str:
    """A report title as a caption: without its leading "Table 3:", which LaTeX's own numbering would repeat."""
    stripped = _TABLE_NUMBER.sub("", title).strip()
    return stripped[:1].upper() + stripped[1:] if stripped else title


@dataclass(frozen=True)
class LatexTable:
    """A table as display text: ``rows`` of cells (LaTeX source, escaped by the caller) under ``header``."""

    header: Sequence[str]  # plain text (escaped here)
    rows: Sequence[Sequence[str]]  # LaTeX source, one cell per header column
    numeric: Sequence[bool]  # per column: right-aligned
    caption: str  # plain text
    label: str  # the \label key (safe characters)
    sections: Sequence[str | None] = ()  # per row: its section (a section line opens each new one); empty: none
    column_groups: Sequence[tuple[str, int]] = ()  # a header row above the columns: (plain text, span)
    grouped: Sequence[int] = field(default_factory=tuple)  # columns whose repeated values are shown once per run


def _line(cells: Sequence[str]) -> str:
    return " & ".join(cells) + r" \\"


def _group_rows(groups: Sequence[tuple[str, int]]) -> list[str]:
    cells, rules, start = [], [], 1
    for label, span in groups:
        cells.append(rf"\multicolumn{{{span}}}{{c}}{{{escape(label)}}}" if span > 1 else escape(label))
        if label:
            rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
        start += span
    return [_line(cells) + (" " + " ".join(rules) if rules else "")]


def _shown_once(rows: Sequence[Sequence[str]], sections: Sequence[str | None], grouped: Sequence[int]) -> list[list[str]]:
    """Blank a grouped column's cell where it and every grouped column left of it equal the row above (same section)."""
    out: list[list[str]] = []
    for i, row in enumerate(rows):
        cells = list(row)
        if i > 0 and (not sections or sections[i] == sections[i - 1]):
            for column in sorted(grouped):
                if all(rows[i][c] == rows[i - 1][c] for c in sorted(grouped) if c <= column):
                    cells[column] = ""
        out.append(cells)
    return out


def render(table: LatexTable) -> str:
    """The ``table`` environment: caption and label above a booktabs tabular."""
    width = len(table.header)
    spec = "".join("r" if n else "l" for n in table.numeric)
    lines = [f"% needs {PREAMBLE}", r"\begin{table}[t]", r"\centering", rf"\caption{{{escape(table.caption)}}}",
             rf"\label{{{table.label}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    if table.column_groups:
        lines += _group_rows(table.column_groups)
    lines += [_line([escape(h) for h in table.header]), r"\midrule"]
    section: str | None = None
    for i, cells in enumerate(_shown_once(table.rows, table.sections, table.grouped)):
        if table.sections and table.sections[i] != section:
            section = table.sections[i]
            if i > 0:
                lines.append(r"\midrule")
            lines.append(_line([rf"\multicolumn{{{width}}}{{l}}{{\textit{{{escape(section or '')}}}}}"]))
        lines.append(_line(cells))
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"
