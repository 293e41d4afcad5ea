"""``render_report``: a results database -> a folder with index.html, its PNG figures, every table
as CSV, Markdown and LaTeX and a JSON record per (classifier, defense stack) under ``records/``,
viewable offline (inline CSS, no script, nothing fetched).

The report is rendered from the database alone: no artifact, model or dataset
is loaded, so it works on a machine that never ran the matrix, and on a run
that is still going (what is missing is marked).  The example grids
(``examples=True``) are the exception: they need the run's artifact cache.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from bench.atomic import output_dir, write_text_atomic
from bench.report.adaptive import table_adaptive
from bench.report.audit import audit_tables
from bench.report.blackbox import table4
from bench.report.comparisons import comparisons_table
from bench.report.example_figures import example_figure, example_table
from bench.report.examples import example_grids
from bench.report.figures import lambda_figure, sweep_figure
from bench.report.headline import headline_table, n_label, seeds_table
from bench.report.load import ReportData, load_report_data
from bench.report.matrix import table1, table3
from bench.report.model import DatasetSection, ReportFigure, ReportTable
from bench.report.other_threats import table_other_threats
from bench.report.names import anchor, slug
from bench.report.provenance import provenance
from bench.report.records import write_records
from bench.report.settings import attack_settings, defense_settings
from bench.report.sweeps import attack_eps_sweeps, attack_variant_sweeps, defense_sweeps, lambda_sweep, single_n
from bench.report.table_files import FORMATS, write_table_files
from bench.report.timing import classifiers_table, table2
from bench.report.view import html_columns, html_rows, numeric_columns

REPORTS_DIR = Path("reports")
TEMPLATE = "report.html.j2"


def default_out_dir(run_name: str) -> Path:
    """``reports/<run name>/`` (the name made safe for a path)."""
    return REPORTS_DIR / slug(run_name)


def _with_figures(tables: list[ReportTable], out_dir: Path) -> list[ReportTable | ReportFigure | None]:
    """Each sweep table preceded by its figure, when it has one."""
    return [item for table in tables for item in (sweep_figure(table, out_dir), table)]


def dataset_section(data: ReportData, dataset: str, out_dir: Path, examples: bool = False) -> DatasetSection:
    """The tables and figures of one dataset, in the order the paper presents them."""
    section = DatasetSection(dataset, anchor(dataset))
    headline, checks = audit_tables(data, dataset)
    section.add(headline)  # the first screen: the number to quote and whether to believe it
    section.add(headline_table(data, dataset), seeds_table(data, dataset))
    matrix = table3(data, dataset)
    if matrix is not None:
        section.add(table1(matrix, dataset), matrix)
    section.add(comparisons_table(data, dataset))
    section.add(lambda_figure(data, dataset, out_dir), lambda_sweep(data, dataset))
    section.add(table4(data, dataset), table_adaptive(data, dataset), table_other_threats(data, dataset), table2(data, dataset),
                classifiers_table(data, dataset))
    section.add(*_with_figures(attack_eps_sweeps(data, dataset), out_dir), *attack_variant_sweeps(data, dataset))
    if matrix is not None:
        n = single_n(data.cells[data.cells["dataset"] == dataset])
        section.add(*_with_figures(defense_sweeps(matrix, data.spec, dataset, n), out_dir))
    if examples:
        section.add(*example_items(data, dataset, out_dir))
    section.add(checks, attack_settings(data, dataset), defense_settings(data, dataset))
    n_text = n_label(data.cells[data.cells["dataset"] == dataset])
    section.items = [_stating_n(item, n_text) for item in section.items]
    return section


def example_items(data: ReportData, dataset: str, out_dir: Path) -> list[ReportTable | ReportFigure]:
    """Per defense stack, its example grid (a figure and its labels as a table); stacks without one in a table."""
    items: list[ReportTable | ReportFigure] = []
    skipped = []
    for grid in example_grids(data, dataset):
        if isinstance(grid, str):
            skipped.append(grid)
            continue
        figure = example_figure(grid, out_dir)
        items += [figure, example_table(grid)] if figure is not None else [example_table(grid)]
    if skipped:
        items.append(ReportTable(f"examples-{slug(dataset)}-skipped", "Stacks without examples",
                                 "Defense stacks without a result under attack.", pd.DataFrame({"Why": skipped})))
    return items


def _stating_n(item: ReportTable | ReportFigure, n_text: str) -> ReportTable | ReportFigure:
    """A table whose note does not open with its n gets the dataset's (every table states the n behind it)."""
    if not isinstance(item, ReportTable) or not n_text or item.note.startswith("n = "):
        return item
    return replace(item, note=f"{n_text} test examples. {item.note}")


def _table_context(table: ReportTable, files: dict[str, str]) -> dict[str, Any]:
    return {"kind": "table", "id": f"t-{table.key}", "title": table.title, "note": table.note, "columns": html_columns(table), "numeric": numeric_columns(table),
            "column_groups": table.column_groups, "rows": html_rows(table),
            "files": [(FORMATS[ext], name) for ext, name in files.items()]}


def _figure_context(figure: ReportFigure) -> dict[str, Any]:
    return {"kind": "figure", "id": f"f-{slug(figure.name)}", "title": figure.title, "caption": figure.caption,
            "src": figure.name, "vector": figure.vector}


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("bench.report", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_report(results_path: Path | str, out_dir: Path | str | None = None, *, examples: bool = False) -> Path:
    """Render the report of the results database at ``results_path``; returns the path of its index.html.

    ``out_dir`` defaults to ``reports/<run name>/``.  Files of the same names
    are replaced; nothing else in the folder is touched.  ``examples`` adds each
    stack's example grid, whose images come from the artifact cache (``bench.report.examples``).
    """
    data = load_report_data(results_path)
    out = output_dir(out_dir if out_dir is not None else default_out_dir(data.run["name"]))
    sections = [dataset_section(data, dataset, out, examples) for dataset in data.datasets()]
    info = provenance(data)

    def context(item: ReportTable | ReportFigure) -> dict[str, Any]:
        return _table_context(item, write_table_files(item, out)) if isinstance(item, ReportTable) else _figure_context(item)

    page = _environment().get_template(TEMPLATE).render(
        run=info, generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        sections=[{"dataset": s.dataset, "id": s.anchor, "items": [context(i) for i in s.items]} for s in sections],
        matrix=context(info.ran.matrix) if info.ran.matrix is not None else None,
        provenance_tables=[context(t) for t in (info.jobs, info.missing, info.sessions) if t is not None])
    index = out / "index.html"
    write_text_atomic(index, page)
    write_records(data, out, index)
    return index
