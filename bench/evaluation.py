"""``bench.evaluate``: the matrix from Python, for a classifier or defense that lives in a notebook or script.

The arguments become a spec (objects under labels, a checkpoint path as a
``[classifiers]`` entry) run by ``bench.run.run_spec``, the CLI's one code path
for the matrix: the same planner, reuse, artifact cache and results store.
Objects are identified by their contents, so a second identical call finds
every job done and runs nothing, and ``run_bench.py report`` or ``export``
read the database it wrote like any other.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence, Union

import pandas as pd
from torch import nn

from attacks.threats import DEFAULT_THREAT
from bench.errors import UserError
from bench.results import load_results
from bench.external_classifiers import MODULE
from bench.run import RunOptions, run_spec
from bench.spec import SpecError, checkpoint_overrides, parse_spec
from defenses import DEFENSES, Defense
from defenses.stack import SEPARATOR

DefenseEntry = Union[str, Defense, Sequence[Union[str, Defense]]]
NAME_PREFIX = "evaluate"


class EvaluationFailed(RuntimeError):
    """Some jobs failed; the results that did finish are kept in the database."""


def evaluate(classifier: nn.Module | str | os.PathLike, dataset: str = "mnist5k",
             defenses: DefenseEntry | Sequence[DefenseEntry] = ("none",), attacks: str | Sequence[str] = ("pgd",),
             threat: str | Sequence[str] = DEFAULT_THREAT, n: int | None = None, eps: float | str | Sequence[float | str] | None = None,
             *, arch: str | None = None, seed: int = 0, device: str = "auto", name: str | None = None,
             results: str | os.PathLike | None = None, progress: bool = True, **spec_keys: Any) -> pd.DataFrame:
    """Accuracy of ``classifier`` under each defense stack and attack: one row per result (``bench.results`` documents the columns).

    The arguments are those of ``run_evaluation``, which says what they mean.
    """
    return load_results(run_evaluation(classifier, dataset, defenses, attacks, threat, n, eps, arch=arch, seed=seed,
                                       device=device, name=name, results=results, progress=progress, **spec_keys)).frame


def run_evaluation(classifier: nn.Module | str | os.PathLike, dataset: str = "mnist5k",
                   defenses: DefenseEntry | Sequence[DefenseEntry] = ("none",), attacks: str | Sequence[str] = ("pgd",),
                   threat: str | Sequence[str] = DEFAULT_THREAT, n: int | None = None,
                   eps: float | str | Sequence[float | str] | None = None, *, arch: str | None = None, seed: int = 0,
                   device: str = "auto", name: str | None = None, results: str | os.PathLike | None = None,
                   progress: bool = True, **spec_keys: Any) -> Path:
    """Run the matrix of ``classifier`` under each defense stack and attack; returns its results database.

    ``classifier`` is an ``nn.Module`` that maps [0, 1] pixels (N, C, H, W) to
    logits, normalisation inside (as RobustBench models do), or the path of a
    weights file of the registered ``arch``.  Each entry of ``defenses`` is a
    registered name, a stack ``"a+b"``, a ``Defense`` instance registered
    nowhere, or a list of names and instances applied in that order.  Any
    other spec key may be given by name, e.g. ``attack_params={"pgd": {"steps": 10}}``
    or ``threads=1``.  Results go to ``results`` (default
    ``results/<name>.sqlite``; ``name`` defaults to ``evaluate-<spec digest>``).
    Raises ``EvaluationFailed`` when a job fails.
    """
    objects: dict[str, Any] = {}
    doc: dict[str, Any] = {"datasets": [dataset], "attacks": _names(attacks, "attacks"), "threats": _names(threat, "threat"),
                           "seed": seed, "device": device}
    if isinstance(classifier, nn.Module):
        if arch is not None:
            raise SpecError("arch= goes with a checkpoint path; an nn.Module is evaluated as it is, so drop arch=")
        objects[MODULE] = classifier
        doc["archs"] = [MODULE]
    elif isinstance(classifier, (str, os.PathLike)):
        doc.update(checkpoint_overrides(arch, classifier))
    else:
        raise SpecError(f"classifier must be an nn.Module or the path of a weights file, got {type(classifier).__name__}")
    entries = [defenses] if isinstance(defenses, (str, Defense)) else list(defenses)
    doc["defenses"] = [_stack_name(entry, objects) for entry in entries]
    if n is not None:
        doc["n"] = n
    if eps is not None:
        doc["eps"] = list(eps) if isinstance(eps, (list, tuple)) else [eps]
    if name is not None:
        doc["name"] = name
    taken = sorted(doc.keys() & spec_keys.keys())
    if taken:
        raise SpecError(f"{', '.join(taken)} come from evaluate's own arguments; pass them there, not as spec keys")
    spec = parse_spec({**doc, **spec_keys}, default_name=NAME_PREFIX, objects=objects)
    if name is None:
        spec = replace(spec, name=f"{NAME_PREFIX}-{spec.digest()[:8]}")
    summary = run_spec(spec, RunOptions(results=Path(results) if results is not None else None, progress=progress,
                                        argv=("bench.evaluate",)))
    if summary.failures:
        label, error = summary.failures[0]
        raise EvaluationFailed(f"{len(summary.failures)} job(s) failed, first {label}: {error}. Tracebacks are in the jobs "
                               f"table of {summary.path}; the finished results are kept, so calling again runs only "
                               "what failed (bump a defense's VERSION when its code changes)")
    return summary.path


def _names(value: str | Sequence[str], argument: str) -> list[str]:
    """One name or a list of names (what the spec checks next); anything else is refused here, naming the argument."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise SpecError(f"{argument}= must be a name or a list of names, e.g. {argument}=[\"pgd\"], got {value!r}")


def _stack_name(entry: DefenseEntry, objects: dict[str, Any]) -> str:
    """The spec's name of a stack entry; each Defense object is added to ``objects`` under a label of its own."""
    if isinstance(entry, str):
        return entry
    stages = [entry] if isinstance(entry, Defense) else entry
    if not isinstance(stages, (list, tuple)) or not stages:
        raise UserError(f"a defenses entry must be a name, a Defense instance or a list of them, got {entry!r}")
    names = []
    for stage in stages:
        if isinstance(stage, str):
            names.append(stage)
        elif isinstance(stage, Defense):
            names.append(_object_label(stage, objects))
        else:
            raise UserError(f"a defense stage must be a name or a Defense instance, got {type(stage).__name__}; "
                            "subclass defenses.Defense and implement purify")
    return SEPARATOR.join(names)


def _object_label(defense: Defense, objects: dict[str, Any]) -> str:
    """The class name, made unique within this call and distinct from registered defenses."""
    for label, obj in objects.items():
        if obj is defense:
            return label
    label = type(defense).__name__
    if label in objects or label in DEFENSES:
        label = f"{label}-{len(objects)}"
    objects[label] = defense
    return label
