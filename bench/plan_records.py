"""Each planned job with its settings fully resolved, as one JSON object per line (``run --dry-run --jobs``).

A user reading a paper config before owning the data or a GPU sees what every
job would run: the recipe's configuration with its dataset preset, each
defense stage's parameters resolved against its preset for the dataset, the
attack's parameters with the preset and the constructor's defaults filled in,
its norm and eps, and the threat model's parameters with their defaults.
The components are those spec validation built (the jobs' attack and threat
objects, the spec's defenses); nothing here builds one, trains or loads data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any, Iterator

from bench.classifiers import make_recipe
from bench.component_params import constructor_defaults
from bench.jobs import AttackRef, ClassifierRef, CraftTask, EvaluateTask, FitTask, Job, StageRef, ThreatRef, TrainTask
from bench.plan import Plan
from bench.spec import Components
from defenses.preset_defense import PresetDefense


def resolved_attack(attack: AttackRef) -> dict[str, Any]:
    """Every constructor parameter of the attack as the craft job runs it, and its norm."""
    instance = attack.instance
    params = {**constructor_defaults(type(instance)), **attack.params, "norm": instance.norm.value}
    return {"label": attack.label, "base": attack.base, "class": type(instance).__qualname__, "params": params}


def resolved_stage(stage: StageRef, dataset: str, components: Components) -> dict[str, Any]:
    """A defense stage's parameters: its configuration resolved for ``dataset`` where it has presets."""
    instance = components.defense(stage.label)
    if isinstance(instance, PresetDefense):
        config = instance.resolve(dataset, instance.keyed_params())
        params = asdict(config) if is_dataclass(config) else dict(config)
    else:
        params = instance.keyed_params()  # the constructor's arguments, defaults included
    return {"label": stage.label, "base": stage.base, "given": stage.params, "params": params}


def resolved_threat(threat: ThreatRef) -> dict[str, Any]:
    """The threat's constructor parameters with its defaults filled in (lam is per job, not here)."""
    params = {**constructor_defaults(type(threat.instance)), **threat.params}
    return {"label": threat.label, "model": threat.model, "params": params}


def resolved_classifier(ref: ClassifierRef) -> dict[str, Any]:
    record: dict[str, Any] = {"label": ref.label(), "key": ref.key, "dataset": ref.dataset, "arch": ref.arch,
                              "recipe": ref.recipe, "recipe_base": ref.recipe_base, "seed": ref.seed}
    if ref.external is not None:
        record["external"] = {**ref.external.identity(), "path": ref.external.path}
    elif ref.key.startswith("zoo-"):
        record["pretrained"] = True
    else:
        record["recipe_config"] = make_recipe(ref.cid()).identity()
    return record


def job_record(job: Job, components: Components) -> dict[str, Any]:
    """The job's kind, key, label, dependencies and resolved settings (``components``: the planned spec's)."""
    record: dict[str, Any] = {"kind": job.kind.value, "key": job.key, "label": job.label, "deps": list(job.deps)}
    task = job.task
    if isinstance(task, TrainTask):
        record["classifier"] = resolved_classifier(task.classifier)
    elif isinstance(task, FitTask):
        record.update(classifier=task.classifier.label(), seed=task.seed,
                      stage=resolved_stage(task.stage, task.classifier.dataset, components))
    elif isinstance(task, CraftTask):
        record.update(_craft(task, components))
    elif isinstance(task, EvaluateTask):
        record.update(classifier=task.classifier.label(), labels=asdict(task.labels), seed=task.seed,
                      batch_size=task.batch_size, advset=task.advset.key if task.advset else None,
                      stack=[resolved_stage(s, task.classifier.dataset, components) for s in task.stack])
    return record


def _craft(task: CraftTask, components: Components) -> dict[str, Any]:
    dataset = task.target.dataset
    return {"target": task.target.label(), "attack": resolved_attack(task.attack), "eps": task.eps, "lam": task.lam,
            "threat": resolved_threat(task.threat), "n": task.n, "seed": task.seed, "batch_size": task.batch_size,
            "stack": None if task.stack is None else [resolved_stage(s, dataset, components) for s in task.stack]}


def job_lines(plan: Plan) -> Iterator[str]:
    """One JSON object per job, in the plan's (topological) order."""
    for job in plan.ordered():
        yield json.dumps(job_record(job, plan.spec.components), sort_keys=True, default=str)
