"""The examples behind a stack's worst case: a few the defense wins and a few it loses, under the strongest attack
against it (its lowest result on adversarial inputs, ``bench.worst``), with the clean, adversarial and purified images and the labels each one got.

The images come from the artifact cache: the adversarial set a result was evaluated on, and the classifier and
fitted stages rebuilt through the run's own context (``bench.run_context``), after checking that each one is
cached, so nothing is ever trained or fitted here.  What the cache lacks is said in the grid's note instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.cache import ArtifactCache
from bench.classifiers import classifier_key
from bench.errors import UserError
from bench.jobs import ClassifierRef, StageRef
from bench.predictions import predict_labels, purified
from bench.report.load import DONE, ReportData
from bench.report.names import NONE_STACK
from bench.store import flags_of
from bench.run_context import ADVSETS, DEFENSES_KIND, ContextSettings, RunContext
from bench.worst import CLEAN, stack_worst
from defenses import DEFENSES

EXAMPLES_PER_SIDE = 3
WIN, LOSS = "defense wins", "defense loses"
CLASS_NAMES = {"cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")}


@dataclass(frozen=True)
class Chosen:
    """Test-example indices: where the defense wins (the attack fooled the classifier alone, the defended pipeline is
    right on every draw) and where it loses (the defended pipeline is wrong on the shown draw, though right on the
    clean example on that draw)."""

    wins: tuple[int, ...]
    losses: tuple[int, ...]


def choose_examples(robust: np.ndarray, shown: np.ndarray, undefended: np.ndarray, clean: np.ndarray | None,
                    k: int = EXAMPLES_PER_SIDE) -> Chosen:
    """The first ``k`` wins and losses in test order (the first n test examples are a fair sample, so are these).

    ``robust``: correct after the defense on every draw; ``shown``: correct on the draw whose images are shown;
    ``undefended``: the classifier alone correct on the adversarial input; ``clean``: the defended pipeline correct on
    the clean input on the shown draw (None when the run has no clean result for the stack: every loss then counts).
    """
    robust, shown, undefended = (np.asarray(a, dtype=bool) for a in (robust, shown, undefended))
    wins = np.flatnonzero(robust & ~undefended)
    lost = ~shown if clean is None else ~shown & np.asarray(clean, dtype=bool)
    return Chosen(tuple(int(i) for i in wins[:k]), tuple(int(i) for i in np.flatnonzero(lost)[:k]))


@dataclass(frozen=True)
class ExampleRow:
    index: int  # in the test split
    outcome: str  # WIN or LOSS
    true: int
    adversarial: int | None  # the classifier alone on the adversarial input (None: classifier not in the cache)
    purified: int | None  # the classifier on the purified adversarial input (None: a stage not in the cache)


@dataclass(frozen=True)
class ExampleGrid:
    """One stack's examples: images (rows x C x H x W, pixels in [0, 1]) and labels, or why some are not shown."""

    dataset: str
    classifier: str
    defense: str
    result: str  # the result of the stack's worst case, e.g. ``pgd/oblivious eps=0.3``
    rows: tuple[ExampleRow, ...]
    clean: torch.Tensor | None
    adversarial: torch.Tensor | None
    purified: torch.Tensor | None
    factor: float  # the perturbation is shown as 0.5 + factor * (x_adv - x)
    draw: str  # which draw of a randomized stack the purified images are ("" for a deterministic stack)
    missing: tuple[str, ...]  # what the artifact cache lacks, in words

    def class_name(self, label: int | None) -> str:
        if label is None:
            return "not known"
        names = CLASS_NAMES.get(self.dataset.partition(":")[0])
        return f"{label} ({names[label]})" if names and label < len(names) else str(label)


def amplification(x_adv: torch.Tensor, x: torch.Tensor) -> float:
    """The factor that maps the largest perturbation of the shown images to half the pixel range (1.0 when there is none)."""
    largest = float((x_adv - x).abs().max()) if len(x) else 0.0
    return 0.5 / largest if largest > 0 else 1.0


def _classifier_ref(data: ReportData, row: pd.Series) -> ClassifierRef | None:
    """The classifier a result ran on, as the planner named it (None for one given from outside the registry)."""
    if row["recipe"] in data.spec.get("classifiers", {}):
        return None
    recipe = data.spec.get("recipes", {}).get(row["recipe"], {"base": row["recipe"], "params": {}})
    return ClassifierRef(row["dataset"], row["arch"], row["recipe"], recipe["base"], dict(recipe["params"]), int(row["seed"]),
                         row["classifier_key"])


def _stages(data: ReportData, stack_json: str) -> tuple[StageRef, ...]:
    """The stack's stages as the run's plan had them; a stage needs a fit exactly when the plan had its fit job."""
    planned = set(data.jobs["key"])
    return tuple(StageRef(s["label"], s["base"], s["params"], s["key"], f"fit-{s['fit_key']}" in planned, s["fit_key"])
                 for s in json.loads(stack_json))


class _Source:
    """Artifacts for the grids, from the cache only: each is checked to be cached before the run context loads it."""

    def __init__(self, data: ReportData, cache: ArtifactCache) -> None:
        self.data, self.cache = data, cache
        self.context = RunContext(ContextSettings(device="cpu", cache_root=str(cache.root)))

    def clean(self, dataset: str, n: int) -> tuple[torch.Tensor, torch.Tensor] | str:
        try:
            split = self.context.test_split(dataset, n)
        except UserError as exc:
            return f"the dataset {dataset} cannot be loaded here ({exc})"
        return split.x, split.y

    def adversarial(self, advset_key: str) -> torch.Tensor | str:
        artifact = self.cache.load(ADVSETS, advset_key)
        if artifact is None:
            return f"the adversarial set {advset_key[:12]} is not in the artifact cache {self.cache.root}"
        return artifact.tensors["x_adv"]

    def classifier(self, ref: ClassifierRef | None) -> torch.nn.Module | str:
        if ref is None:
            return "the classifier was given from outside (a checkpoint or module), which the report does not reload"
        if self.cache.load("classifiers", ref.key) is None or classifier_key(ref.cid(), self.context.dataset(ref.dataset)) != ref.key:
            return f"the classifier {ref.label()} is not in the artifact cache {self.cache.root} (the report trains nothing)"
        return self.context.classifier(ref).model

    def stack(self, ref: ClassifierRef, stages: tuple[StageRef, ...], seed: int) -> Any:  # -> defenses.Stack | str
        given = [s.label for s in stages if s.base not in DEFENSES]
        if given:
            return (f"{', '.join(given)} was given as a Python object, which the report cannot rebuild, so no purified "
                    "image is shown")
        lacking = [s.label for s in stages if s.needs_fit and self.cache.load(DEFENSES_KIND, s.fit_key) is None]
        if lacking:
            return (f"the fitted state of {', '.join(lacking)} on {ref.label()} is not in the artifact cache {self.cache.root} "
                    "(the report fits nothing), so no purified image is shown")
        return self.context.stack(ref, stages, seed)


def _clean_flags(data: ReportData, row: pd.Series) -> np.ndarray | None:
    """The stack's flags on the clean inputs, one row per draw (None when the run has no clean result for it)."""
    same = data.cells[(data.cells["attack"] == CLEAN) & (data.cells["status"] == DONE)
                      & (data.cells["classifier_key"] == row["classifier_key"]) & (data.cells["defense"] == row["defense"])]
    if same.empty:
        return None
    flags = data.draw_flags([same["job_key"].iloc[0]])
    return next(iter(flags.values()), None)


def _chosen(data: ReportData, row: pd.Series, k: int) -> tuple[list[int], list[str], int]:
    """The shown examples in order (wins first), their outcomes, and the result's number of draws."""
    key = row["job_key"]
    robust, undefended = flags_of(data.path, [key])[key]
    draws = data.draw_flags([key])[key]
    clean_draws = _clean_flags(data, row)  # the clean evaluation draws the same noise per draw as this one
    chosen = choose_examples(robust, draws[0], undefended, clean_draws[0] if clean_draws is not None else None, k)
    return [*chosen.wins, *chosen.losses], [WIN] * len(chosen.wins) + [LOSS] * len(chosen.losses), len(draws)


def _purified(data: ReportData, source: _Source, row: pd.Series, ref: ClassifierRef, x_adv: torch.Tensor,
              order: list[int], draws: int) -> torch.Tensor | str:
    """The shown examples purified as the evaluation's first draw purified them (or why they cannot be).

    A randomized stack purifies the whole set in the evaluation's batches under that draw's seed, so each shown
    image is the one the draw counted; a deterministic one needs only the shown examples.
    """
    stack = source.stack(ref, _stages(data, row["stack_json"]), int(row["seed"]))
    if isinstance(stack, str):
        return stack
    inputs = x_adv if draws > 1 else x_adv[order]
    images, _ = purified(stack, inputs, int(row["eval_batch_size"]), source.context.device, int(row["seed"]))
    return images[order] if draws > 1 else images


def _grid(data: ReportData, source: _Source, row: pd.Series, result: str, k: int) -> ExampleGrid:
    order, outcomes, draws = _chosen(data, row, k)
    draw = f"draw 1 of {draws} (seeded as the evaluation's first draw)" if draws > 1 else ""
    base = dict(dataset=row["dataset"], classifier=row["classifier"], defense=row["defense"], result=result, draw=draw)
    clean = source.clean(row["dataset"], int(row["n"]))
    if isinstance(clean, str) or not order:
        return ExampleGrid(rows=(), clean=None, adversarial=None, purified=None, factor=1.0,
                           missing=(clean,) if isinstance(clean, str) else (), **base)
    x, y = clean
    x_adv = source.adversarial(row["advset_key"])
    if isinstance(x_adv, str):
        rows = tuple(ExampleRow(i, o, int(y[i]), None, None) for i, o in zip(order, outcomes))
        return ExampleGrid(rows=rows, clean=x[order], adversarial=None, purified=None, factor=1.0, missing=(x_adv,), **base)
    device = source.context.device
    ref = _classifier_ref(data, row)
    model = source.classifier(ref)
    missing: list[str] = []
    adversarial_labels: list[int | None] = [None] * len(order)
    purified_labels: list[int | None] = [None] * len(order)
    images: torch.Tensor | None = None
    if isinstance(model, str):
        missing.append(model)
    else:
        adversarial_labels = predict_labels(model, x_adv[order], len(order), device).tolist()
        found = _purified(data, source, row, ref, x_adv, order, draws)
        if isinstance(found, str):
            missing.append(found)
        else:
            images = found
            purified_labels = predict_labels(model, images, len(order), device).tolist()
    rows = tuple(ExampleRow(i, o, int(y[i]), a, p) for i, o, a, p in zip(order, outcomes, adversarial_labels, purified_labels))
    return ExampleGrid(rows=rows, clean=x[order], adversarial=x_adv[order], purified=images,
                       factor=amplification(x_adv[order], x[order]), missing=tuple(missing), **base)


def example_grids(data: ReportData, dataset: str, cache: ArtifactCache | None = None,
                  k: int = EXAMPLES_PER_SIDE) -> list[ExampleGrid | str]:
    """Per defense stack of ``dataset`` (``none`` has nothing to purify), its grid, or a line saying why it has none."""
    cells = data.cells[data.cells["dataset"] == dataset]
    done = cells[cells["status"] == DONE]
    if done.empty:
        return []
    worst = stack_worst(cells, data.draw_flags(done["job_key"]))
    source = _Source(data, cache or ArtifactCache())
    by_key = done.set_index("job_key")
    grids: list[ExampleGrid | str] = []
    for stack in worst.to_dict("records"):
        if stack["defense"] == NONE_STACK:
            continue
        key = stack["strongest_job"]
        row = by_key.loc[key].copy() if isinstance(key, str) and key in by_key.index else None
        label = f"{stack['defense']} on {stack['arch']}/{stack['recipe']} (seed {stack['seed']})"
        if row is None:
            grids.append(f"{label}: no attack has a result against it, so there is no adversarial example to show")
            continue
        row["job_key"] = key
        grids.append(_grid(data, source, row, stack["strongest_result"], k))
    return grids
