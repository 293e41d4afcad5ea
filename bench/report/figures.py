"""The report's figures, drawn by matplotlib (Agg, no display) into PNG files of the report folder.

- Figure 4 (and the paper's Figure 5): accuracy before and after purification
  against lambda of the auxiliary-aware attack, one panel per classifier;
- a line plot for each sweep table with a numeric swept column: attack eps
  (Table 11a) and a defense parameter such as its eps (Figure 6) or N (Table 17).

Names from specs become titles and legends through ``mathtext_safe`` and file
names through ``slug``, never as they are.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from bench.atomic import atomic_path  # noqa: E402
from bench.statistics import accuracy_interval  # noqa: E402
from bench.report.load import DONE, ReportData  # noqa: E402
from bench.report.model import ReportFigure, ReportTable  # noqa: E402
from bench.report.names import mathtext_safe, slug  # noqa: E402
from bench.report.sweeps import lambda_cells  # noqa: E402

PANEL_INCHES = (4.2, 3.2)
PANELS_PER_ROW = 4
DPI = 100
LEGEND_COLUMNS = 4
LEGEND_ROW_INCHES = 0.22
BAND_ALPHA = 0.15
BAND_CAPTION = "Shaded: the 95% Clopper-Pearson interval of each accuracy"
NOT_SERIES = {"Section", "Classifier", "Defense", "Parameters", "Attack", "In Table 3"}  # labels, not accuracies


def _panels(count: int) -> tuple[plt.Figure, list[plt.Axes]]:
    columns = min(count, PANELS_PER_ROW)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(PANEL_INCHES[0] * max(columns, 2), PANEL_INCHES[1] * rows + 0.9),
                                squeeze=False)
    flat = list(axes.flat)
    for unused in flat[count:]:
        unused.set_visible(False)
    return figure, flat[:count]


def _legend_below(figure: plt.Figure, axes: list[plt.Axes]) -> None:
    """One legend for all panels, under them, so no line is hidden behind it."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if not entries:
        figure.tight_layout()
        return
    columns = min(len(entries), LEGEND_COLUMNS)
    figure.legend(list(entries.values()), list(entries), loc="lower center", ncol=columns, fontsize="small", frameon=False)
    rows = math.ceil(len(entries) / columns)
    figure.tight_layout(rect=(0, (rows * LEGEND_ROW_INCHES + 0.1) / figure.get_figheight(), 1, 1))


def save_figure(figure: plt.Figure, out_dir: Path, name: str) -> str:
    """Write ``name`` (a PNG) and the same figure as a PDF beside it; returns the PDF's name."""
    vector = str(Path(name).with_suffix(".pdf"))
    with atomic_path(out_dir / name) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    with atomic_path(out_dir / vector) as tmp:
        figure.savefig(tmp, format="pdf", metadata={"CreationDate": None})  # no date: the same figure, the same bytes
    plt.close(figure)
    return vector


def _band(ax: plt.Axes, x: pd.Series, percent: pd.Series, n: pd.Series | int, color: str) -> None:
    """The 95% Clopper-Pearson interval of each accuracy (%), shaded around its line."""
    counts = n if isinstance(n, pd.Series) else pd.Series(n, index=percent.index)
    bounds = [accuracy_interval(round(p / 100 * k), int(k)) for p, k in zip(percent, counts)]
    ax.fill_between(x, [100 * b.low for b in bounds], [100 * b.high for b in bounds], color=color, alpha=BAND_ALPHA,
                    linewidth=0)


def lambda_figure(data: ReportData, dataset: str, out_dir: Path) -> ReportFigure | None:
    """Accuracy before (dashed) and after (solid) purification against lambda, one panel per classifier."""
    cells = data.cells[(data.cells["dataset"] == dataset) & lambda_cells(data.cells)
                       & (data.cells["status"] == DONE)]
    if cells.empty:
        return None
    classifiers = list(dict.fromkeys(cells["classifier"]))
    figure, axes = _panels(len(classifiers))
    for ax, classifier in zip(axes, classifiers):
        mine = cells[cells["classifier"] == classifier]
        several = mine.groupby(["defense", "attack", "threat", "eps_key"]).ngroups > 1
        for (defense, attack, threat, eps), group in mine.groupby(["defense", "attack", "threat", "eps_key"], sort=False):
            group = group.sort_values("lam")
            label = mathtext_safe(f"{defense}, {attack} eps {eps}" if several else defense)
            line, = ax.plot(group["lam"], 100 * group["accuracy_undefended"], "o--", label=f"before ({label})")
            ax.plot(group["lam"], 100 * group["accuracy"], "s-", color=line.get_color(), label=f"after ({label})")
            for column in ("accuracy_undefended", "accuracy"):
                _band(ax, group["lam"], 100 * group[column], group["n"], line.get_color())
        ax.set_title(mathtext_safe(classifier))
        ax.set_xlabel("lambda")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    figure.suptitle(mathtext_safe(f"{dataset}: auxiliary-aware attack, before and after purification"))
    _legend_below(figure, axes)
    name = slug(dataset, "figure4") + ".png"
    vector = save_figure(figure, out_dir, name)
    caption = ("Accuracy before purification (dashed: the classifier on the adversarial examples) and after it (solid) "
               "against lambda of the auxiliary-aware attack, one panel per classifier (the paper's Figures 4 and 5). "
               f"{BAND_CAPTION} (from its n).")
    return ReportFigure(name, "Figure 4: auxiliary-aware attack against lambda", caption, vector)


def sweep_figure(table: ReportTable, out_dir: Path) -> ReportFigure | None:
    """A line per numeric series of a sweep table against its swept column; a panel per classifier when it has them."""
    frame = table.frame
    if table.x is None or len(frame) < 2:
        return None
    panels = list(dict.fromkeys(frame["Classifier"])) if "Classifier" in frame else [None]
    series = [c for c in frame.columns if c not in NOT_SERIES and c != table.x and pd.api.types.is_numeric_dtype(frame[c])
              and frame[[table.x, c]].notna().all(axis=1).sum() >= 2]
    if not series:
        return None  # no line to draw yet
    figure, axes = _panels(len(panels))
    for ax, panel in zip(axes, panels):
        rows = (frame if panel is None else frame[frame["Classifier"] == panel]).dropna(subset=[table.x]).sort_values(table.x)
        for column in series:
            line, = ax.plot(rows[table.x], rows[column], "o-", label=mathtext_safe(column))
            shown = rows[[table.x, column]].dropna()
            if table.n:
                _band(ax, shown[table.x], shown[column], table.n, line.get_color())
        if panel is not None:
            ax.set_title(mathtext_safe(panel))
        ax.set_xlabel(mathtext_safe(table.x))
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    figure.suptitle(mathtext_safe(table.title))
    _legend_below(figure, axes)
    name = f"{table.key}.png"
    vector = save_figure(figure, out_dir, name)
    title = f"Figure: {table.title[0].lower()}{table.title[1:]}"
    bands = f" {BAND_CAPTION} (n = {table.n})." if table.n else ""
    return ReportFigure(name, title, f"Accuracy (%) against {table.x}; the numbers are in the table below.{bands}", vector)
