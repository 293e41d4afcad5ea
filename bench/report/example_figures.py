"""The example grids as the report shows them: one PNG (and PDF) per stack, clean | adversarial | purified |
perturbation per example, and a table of the same examples' labels, so the grid reads without the picture too."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from bench.report.examples import ExampleGrid  # noqa: E402
from bench.report.figures import save_figure  # noqa: E402
from bench.report.model import ReportFigure, ReportTable  # noqa: E402
from bench.report.names import mathtext_safe, slug  # noqa: E402

CELL_INCHES = 1.7
COLUMNS = ("Clean", "Adversarial", "Purified", "Perturbation")


def _image(tensor: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] as matplotlib shows it: (H, W) for one channel, (H, W, 3) for colour."""
    array = tensor.detach().cpu().clamp(0, 1).numpy()
    return array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))


def _show(ax: plt.Axes, tensor: torch.Tensor | None, title: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(mathtext_safe(title), fontsize=8)
    if tensor is None:
        ax.text(0.5, 0.5, "not in the cache", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        return
    image = _image(tensor)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")


def figure_name(grid: ExampleGrid) -> str:
    return f"examples-{slug(grid.dataset, grid.classifier, grid.defense)}.png"


def example_figure(grid: ExampleGrid, out_dir: Path) -> ReportFigure | None:
    """The grid's PNG (and PDF) in ``out_dir``; None when it has no example to show."""
    if not grid.rows or grid.clean is None:
        return None
    figure, axes = plt.subplots(len(grid.rows), len(COLUMNS), figsize=(CELL_INCHES * len(COLUMNS), CELL_INCHES * len(grid.rows)),
                                squeeze=False)
    for r, row in enumerate(grid.rows):
        adversarial = grid.adversarial[r] if grid.adversarial is not None else None
        purified = grid.purified[r] if grid.purified is not None else None
        perturbation = (0.5 + grid.factor * (adversarial - grid.clean[r])) if adversarial is not None else None
        _show(axes[r][0], grid.clean[r], f"#{row.index} {row.outcome}\ntrue {grid.class_name(row.true)}")
        _show(axes[r][1], adversarial, f"classifier: {grid.class_name(row.adversarial)}")
        _show(axes[r][2], purified, f"defended: {grid.class_name(row.purified)}")
        _show(axes[r][3], perturbation, f"x{grid.factor:.3g}, grey = 0")
    figure.tight_layout()
    name = figure_name(grid)
    vector = save_figure(figure, out_dir, name)
    return ReportFigure(name, f"Examples: {grid.defense} on {grid.classifier}", caption(grid), vector)


def caption(grid: ExampleGrid) -> str:
    """What the grid shows and under which attack, which draw, and what the cache lacks."""
    text = (f"Under {grid.result}, the strongest attack against this stack (its lowest result): the first test examples the defense "
            "wins (the attack fools the classifier alone, the defended pipeline is right on every draw) and loses (the "
            "defended pipeline is wrong, though right on the clean example). Columns: clean image with its true label, "
            "adversarial image with the classifier's label, purified image with the defended label, and the perturbation "
            f"x_adv - x amplified {grid.factor:.3g} times around grey.")
    if grid.draw:
        text += f" Randomized stack: the purified images are {grid.draw}."
    return " ".join([text, *(f"Not shown: {m}." for m in grid.missing)])


def example_table(grid: ExampleGrid) -> ReportTable:
    frame = pd.DataFrame([{"Example": row.index, "Outcome": row.outcome, "True label": grid.class_name(row.true),
                           "Classifier on adversarial": grid.class_name(row.adversarial),
                           "Defended on adversarial": grid.class_name(row.purified)} for row in grid.rows],
                         columns=["Example", "Outcome", "True label", "Classifier on adversarial", "Defended on adversarial"])
    none = f"No test example where the defense wins or loses under {grid.result}."
    note = caption(grid) if grid.rows else " ".join([none, *(f"Not shown: {m}." for m in grid.missing)])
    return ReportTable(f"examples-{slug(grid.dataset, grid.classifier, grid.defense)}",
                       f"Examples: {grid.defense} on {grid.classifier}, labels", note, frame)
