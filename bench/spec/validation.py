"""Validating a parsed spec document: every key, name and value checked, every component built once.

Every name is checked against its registry, every parameter by building the
component once (``bench.spec.components``), so a typo fails in a second with a
message naming the fix, never an hour into a run.  The spec keeps what was
built (``Spec.components``) for the planner.
"""

from __future__ import annotations

import difflib
import inspect
import math
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from torch import nn

from attacks import ATTACKS
from attacks.norms import Norm
from attacks.threats import THREATS, Axis, ThreatModel
from bench.classifiers import recipe_for
from bench.data import DATASETS, content_fingerprint, parse_dataset_name, split_dataset_names
from bench.defense_objects import check_defense_object, defense_digest
from bench.device import DEVICE_CHOICES
from bench.errors import DataUnavailableError, UnknownNameError, UserError
from bench.external_classifiers import ExternalClassifier, from_checkpoint, from_module
from bench.jobs import CLEAN
from bench.models import ARCHS
from bench.plan_sources import TransferSource, parse_source
from bench.recipes import RECIPES
from bench.registry import Registry
from bench.spec.audit_settings import parse_audit_settings
from bench.spec.components import ComponentBuilder
from bench.spec.model import (AUDIT, AUDIT_PARAMS, AXES, AXIS_DEFAULTS, BLOCK_KEYS, CLASSIFIER_KEYS, CLASSIFIERS, DEFAULT_BATCH_SIZE, DEFAULT_DRAWS,
                              DEFAULT_LAMBDAS, LABEL, MAX_NAME, PRETRAINED, SCALARS, SEEDS, TOP_KEYS, USE, ZOO_PREFIX,
                              Block, Component, Spec, SpecError)
from defenses import DEFENSES, parse_stack

#: How a block gives values to an axis a threat adds.
AXIS_EXAMPLES = {Axis.LAM: "lam = [0.0, 0.5, 1.0] or --lam 0,0.5,1",
                 Axis.SOURCES: "sources = [\"same\", \"vgg19\"] or --source same,vgg19"}


def parse_spec(doc: Mapping[str, Any], *, text: str = "", default_name: str = "adhoc", base_dir: Path | None = None,
               objects: Mapping[str, Any] | None = None) -> Spec:
    """Validate a parsed TOML document into a ``Spec`` (raises ``SpecError`` naming the fix).

    Relative checkpoint paths start at ``base_dir`` (the spec file's folder;
    default the working directory).  ``objects`` maps labels to ``nn.Module``
    classifiers and ``Defense`` instances given from Python.
    """
    _check_keys(doc, TOP_KEYS, "the spec")
    scalars = {k: _scalar(doc[k], k, t) for k, t in SCALARS.items() if k in doc}
    name = check_name(scalars.get("name", default_name), "name")
    n = scalars.get("n")
    if n is not None and n < 1:
        raise SpecError(f"n must be a positive number of test examples, got {n}")
    seed = scalars.get("seed", 0)
    if seed < 0:
        raise SpecError(f"seed must be >= 0, got {seed}")
    device = scalars.get("device", "auto")
    if device not in DEVICE_CHOICES:
        raise SpecError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {device!r}")
    batch_size = scalars.get("batch_size", DEFAULT_BATCH_SIZE)
    if batch_size < 1:
        raise SpecError(f"batch_size must be >= 1, got {batch_size}")
    threads = scalars.get("threads")
    if threads is not None and threads < 1:
        raise SpecError(f"threads must be >= 1, got {threads}")
    workers = scalars.get("workers")
    if workers is not None and workers < 1:
        raise SpecError(f"workers must be >= 1 (parallel job processes), got {workers}")
    seeds = _seeds(doc)
    draws = scalars.get("draws", DEFAULT_DRAWS)
    if draws < 1:
        raise SpecError(f"draws must be >= 1 (evaluations of a randomized stack), got {draws}")

    recipes = _components(doc, "recipe_params", RECIPES)
    defenses = _components(doc, "defense_params", DEFENSES)
    attacks = _components(doc, "attack_params", ATTACKS)
    threats = _threat_components(doc)
    classifiers = _classifiers(doc, base_dir or Path.cwd())
    _add_objects(objects or {}, classifiers, defenses)
    attack_eps = {label: _numbers(c.params.pop("eps"), f"attack_params.{label}.eps", 0.0, math.inf)
                  for label, c in attacks.items() if "eps" in c.params}
    if CLEAN in attacks:
        raise SpecError(f"'{CLEAN}' is reserved for the unperturbed column every stack gets; rename attack_params.{CLEAN}")
    built = ComponentBuilder(defenses, attacks, threats)
    built.build_declared()

    blocks_doc = doc.get("matrix", [{}])
    if not isinstance(blocks_doc, list) or not blocks_doc or not all(isinstance(b, dict) for b in blocks_doc):
        raise SpecError("matrix must be an array of tables ([[matrix]] blocks), each setting some of: " + ", ".join(AXES))
    blocks = []
    for i, block_doc in enumerate(blocks_doc):
        where = f"[[matrix]] block {i + 1}" if "matrix" in doc else "the spec"
        _check_keys(block_doc, BLOCK_KEYS, where)
        inherited = {k: doc[k] for k in BLOCK_KEYS if k in doc and k != "eps"}  # top-level eps ranks below an attack's own
        blocks.append(_block({**inherited, **block_doc}, where, recipes, defenses, attacks, threats, classifiers, built))
    spec = Spec(name=name, description=scalars.get("description", ""), seed=seed, n=n, device=device,
                batch_size=batch_size, threads=threads, blocks=tuple(blocks), recipes=recipes, defenses=defenses, attacks=attacks,
                threats=threats, attack_eps=attack_eps,
                default_eps=_numbers(doc["eps"], "eps", 0.0, math.inf) if "eps" in doc else None, text=text,
                classifiers=classifiers, draws=draws, seeds=seeds, data=_data_fingerprints(blocks),
                audit_params=parse_audit_settings(_table(doc, AUDIT_PARAMS), SpecError), workers=workers,
                components=built.components())
    _check_recipes(spec)
    _check_linf_eps(spec)
    return spec


def _block(doc: Mapping[str, Any], where: str, recipes: dict[str, Component], defenses: dict[str, Component],
           attacks: dict[str, Component], threats: dict[str, Component], classifiers: Mapping[str, ExternalClassifier],
           built: ComponentBuilder) -> Block:
    axes = {k: _str_list(_axis_value(doc, k), f"{k} in {where}") for k in AXIS_DEFAULTS}
    for dataset in axes["datasets"]:
        _lookup(DATASETS, parse_dataset_name(dataset)[0], f"datasets in {where}")
    for arch in axes["archs"]:
        if not arch.startswith(ZOO_PREFIX) and arch not in classifiers:
            _lookup(ARCHS, arch, f"archs in {where}")
    for recipe in axes["recipes"]:
        if recipe != PRETRAINED:  # zoo archs (robustbench:NAME) come trained
            _component(recipes, recipe, RECIPES, f"recipes in {where}")
    for stack in axes["defenses"]:
        try:
            stages = parse_stack(stack)
        except UserError as exc:
            raise SpecError(f"defenses in {where}: {exc}") from None
        for stage in stages:
            _component(defenses, stage, DEFENSES, f"defense stack {stack!r} in {where}")
    for attack in axes["attacks"]:
        if attack == CLEAN:
            raise SpecError(f"attacks in {where}: '{CLEAN}' is evaluated for every stack anyway; remove it")
        _component(attacks, attack, ATTACKS, f"attacks in {where}")
    for threat in axes["threats"]:
        _threat(threats, threat, f"threats in {where}")
    models = {threat: built.threat(threat).instance for threat in axes["threats"]}
    sources = tuple(_source(s, recipes, classifiers, where)
                    for s in _str_list(doc.get("sources", []), f"sources in {where}", empty=True))
    eps = _numbers(doc["eps"], f"eps in {where}", 0.0, math.inf) if "eps" in doc else None
    lam = _numbers(doc["lam"], f"lam in {where}", 0.0, 1.0) if "lam" in doc else DEFAULT_LAMBDAS
    audit = doc.get(AUDIT, False)
    if not isinstance(audit, bool):
        raise SpecError(f"audit in {where} must be true or false, got {audit!r}")
    block = Block(**{k: tuple(v) for k, v in axes.items()}, eps=eps, lam=lam, sources=sources, audit=audit)
    _check_axes(block, models, where)
    _check_pairs(block, models, built, where)
    _check_stacks(block, models, built, where)
    return block


def _check_axes(block: Block, models: Mapping[str, ThreatModel], where: str) -> None:
    """Each extra axis a threat adds needs values in the block."""
    values = {Axis.LAM: block.lam, Axis.SOURCES: block.sources}
    for label, model in models.items():
        for axis in sorted(model.axes):
            if not values[axis]:
                raise SpecError(f"the {label} threat in {where} needs {axis.value}, e.g. {AXIS_EXAMPLES[axis]}")


def _check_pairs(block: Block, models: Mapping[str, ThreatModel], built: ComponentBuilder, where: str) -> None:
    """Refuse attack/threat pairs the threat model cannot run (known before any work)."""
    for label in block.attacks:
        instance = built.attack(label).instance
        for threat, model in models.items():
            why = model.refuse_attack(instance)
            if why is not None:
                raise SpecError(f"{where}: attack {label!r} with threat {threat!r}: {why}; put it in a [[matrix]] block of its own")


def _check_stacks(block: Block, models: Mapping[str, ThreatModel], built: ComponentBuilder, where: str) -> None:
    """Refuse stack/threat pairs the threat model cannot attack (the auxaware threat needs an auxiliary loss)."""
    for stack in block.defenses:
        stages = [built.defense(label) for label in parse_stack(stack)]
        for threat, model in models.items():
            why = model.refuse_stack(stages)
            if why is not None:
                raise SpecError(f"{where}: stack {stack!r} with threat {threat!r}: {why}; give this block other defenses, "
                                "or the threat a [[matrix]] block of its own")


def _axis_value(doc: Mapping[str, Any], axis: str) -> Any:
    """The axis' list, or its comma-separated string (a flag's) split; ``npz:TRAIN,TEST`` stays one dataset."""
    value = doc.get(axis, AXIS_DEFAULTS.get(axis, []))
    return split_dataset_names(value) if axis == "datasets" and isinstance(value, str) else value


def _data_fingerprints(blocks: Sequence[Block]) -> dict[str, str]:
    """The content digests of the local datasets (npz, imagefolder): a changed file makes another spec.

    A file not there yet is left out: nothing can run on it, and planning says
    so, while the spec still validates (``--dry-run`` on another machine).
    """
    fingerprints = {}
    for name in sorted({d for b in blocks for d in b.datasets}):
        try:
            fingerprint = content_fingerprint(name)
        except DataUnavailableError:
            continue
        if fingerprint is not None:
            fingerprints[name] = fingerprint
    return fingerprints


def _check_linf_eps(spec: Spec) -> None:
    """An L-inf eps above 1 bounds nothing on [0, 1] pixels: almost always 8 meant for 8/255."""
    for block in spec.blocks:
        for label in block.attacks:
            eps = block.eps or spec.attack_eps.get(label) or spec.default_eps or ()
            attack = spec.components.attack(label).instance
            too_big = [e for e in eps if e > 1.0]
            if too_big and attack.norm is Norm.LINF:
                raise SpecError(f"eps {too_big[0]:g} for the L-inf attack {label!r}: pixels are in [0, 1], so an L-inf eps "
                                f"above 1 bounds nothing; give a fraction such as \"{too_big[0]:g}/255\"")


def _check_recipes(spec: Spec) -> None:
    """Build each recipe for each dataset so that a bad parameter fails now (the other components are built already)."""
    datasets = sorted({d for b in spec.blocks for d in b.datasets})
    used_recipes = {r for b in spec.blocks for r in b.recipes} | {s.recipe for b in spec.blocks for s in b.sources if s.recipe}
    used_recipes.discard(PRETRAINED)
    for label in sorted(used_recipes | spec.recipes.keys()):
        comp = spec.recipes.get(label, Component(label, label))
        for dataset in datasets:
            try:
                recipe_for(comp.base, dataset, comp.params)
            except (TypeError, UserError) as exc:
                raise SpecError(f"recipe_params.{label} on {dataset}: {exc}") from None


def _named_tables(doc: Mapping[str, Any], table: str, example: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(label, where, a copy of its keys) of each ``[table.LABEL]``; ``example`` shows the keys one takes."""
    entries = doc.get(table, {})
    if not isinstance(entries, dict):
        raise SpecError(f"{table} must be a table of tables, e.g. [{table}.NAME] with {example}")
    for label, entry in entries.items():
        where = f"{table}.{label}"
        if not isinstance(entry, dict):
            raise SpecError(f"{where} must be a table, e.g. [{where}] then {example}")
        _check_label(label, where)
        yield label, where, dict(entry)


def _components(doc: Mapping[str, Any], table: str, registry: Registry) -> dict[str, Component]:
    components = {}
    for label, where, params in _named_tables(doc, table, "key = value lines"):
        base = _scalar(params.pop(USE, label), f"{where}.{USE}", str)
        _lookup(registry, base, where)
        components[label] = Component(label, base, params)
    return components


def _classifiers(doc: Mapping[str, Any], base_dir: Path) -> dict[str, ExternalClassifier]:
    """``[classifiers.LABEL]`` tables: an arch and a checkpoint each, identified by the file's contents."""
    classifiers = {}
    for label, where, entry in _named_tables(doc, CLASSIFIERS, "arch = \"smallcnn\" and checkpoint = \"mine.pt\""):
        if label in ARCHS:
            raise SpecError(f"{where}: {label!r} is a registered arch; give the classifier a name of its own")
        _check_keys(entry, CLASSIFIER_KEYS, where)
        missing = [k for k in CLASSIFIER_KEYS if k not in entry]
        if missing:
            raise SpecError(f"{where} needs {' and '.join(missing)}, e.g. arch = \"smallcnn\" and checkpoint = \"mine.pt\"")
        arch = _scalar(entry["arch"], f"{where}.arch", str)
        _lookup(ARCHS, arch, f"{where}.arch")
        path = base_dir / Path(_scalar(entry["checkpoint"], f"{where}.checkpoint", str)).expanduser()
        if not path.is_file():
            raise SpecError(f"{where}.checkpoint: {path} does not exist; give the weights file's path (a relative path "
                            "starts at the spec file's folder)")
        classifiers[label] = from_checkpoint(label, arch, path)
    return classifiers


def _add_objects(objects: Mapping[str, Any], classifiers: dict[str, ExternalClassifier], defenses: dict[str, Component]) -> None:
    """Python objects under their labels: an ``nn.Module`` is a classifier, a ``Defense`` a defense stage."""
    for label, obj in objects.items():
        where = f"the Python object {label!r}"
        _check_label(label, where)
        if label in classifiers or label in defenses:
            raise SpecError(f"{where}: the spec already names a classifier or defense {label!r}; use another label")
        if isinstance(obj, nn.Module):
            classifiers[label] = from_module(label, obj)
            continue
        check_defense_object(obj, where)
        kind = type(obj)
        defenses[label] = Component(label, f"{kind.__module__}.{kind.__qualname__}", dict(obj.params), instance=obj,
                                    digest=defense_digest(obj))


def _threat_components(doc: Mapping[str, Any]) -> dict[str, Component]:
    """``[threat_params.LABEL]`` variants: a registered threat (``use``) and its constructor's keywords, checked now."""
    components = _components(doc, "threat_params", THREATS)
    for label, comp in components.items():
        _check_keys(comp.params, [*_keywords(THREATS.get(comp.base)), USE], f"threat_params.{label}")
    return components


def _keywords(factory: Callable[..., Any]) -> list[str]:
    """The keyword parameters a factory takes, for a did-you-mean on a misspelt key."""
    return [p.name for p in inspect.signature(factory).parameters.values() if p.kind is p.KEYWORD_ONLY
            or p.kind is p.POSITIONAL_OR_KEYWORD]


def _threat(threats: Mapping[str, Component], label: str, where: str) -> Component:
    if label in threats:
        return threats[label]
    try:
        THREATS.get(label)
    except UnknownNameError as exc:
        raise SpecError(f"{where}: {exc} (or define a variant under [threat_params.{label}]). A name provided by a "
                        f"plugin needs that plugin installed (entry-point group {THREATS.group})") from None
    return Component(label, label)


def _component(components: Mapping[str, Component], label: str, registry: Registry, where: str) -> None:
    if label not in components:
        _lookup(registry, label, where)


def _lookup(registry: Registry, name: str, where: str) -> None:
    try:
        registry.get(name)
    except UnknownNameError as exc:
        raise SpecError(f"{where}: {exc}. A name provided by a plugin needs that plugin installed "
                        f"(entry-point group {registry.group})") from None


def _source(text: str, recipes: Mapping[str, Component], classifiers: Mapping[str, ExternalClassifier],
            where: str) -> TransferSource:
    try:
        source = parse_source(text)
    except UserError as exc:
        raise SpecError(f"sources in {where}: {exc}") from None
    if source.arch is not None and not source.arch.startswith(ZOO_PREFIX) and source.arch not in classifiers:
        _lookup(ARCHS, source.arch, f"transfer source {text!r} in {where}")
    if source.recipe is not None:
        _component(recipes, source.recipe, RECIPES, f"transfer source {text!r} in {where}")
    return source


# ---------------------------------------------------------------- small checks


def _table(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(f"{key} must be a table ([{key}] with keys), got {value!r}")
    return value


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise SpecError(f"unknown key {key!r} in {where}; {hint}valid keys: {', '.join(allowed)}")


def _check_label(label: str, where: str) -> None:
    if not LABEL.match(label) or label == CLEAN:
        raise SpecError(f"{where}: the name {label!r} must be letters, digits, '_', '.', '-' (and not {CLEAN!r})")


def check_name(name: str, where: str) -> str:
    if not isinstance(name, str) or not LABEL.match(name) or len(name) > MAX_NAME:
        shown = repr(name) if len(repr(name)) <= 60 else f"{repr(name)[:40]}... ({len(name)} characters)"
        raise SpecError(f"{where} {shown} must be 1 to {MAX_NAME} letters, digits, '_', '.', '-' (it names the results file)")
    return name


def _seeds(doc: Mapping[str, Any]) -> tuple[int, ...]:
    """``seeds = [0, 1, 2]``: distinct seeds >= 0, and not beside ``seed``."""
    if SEEDS not in doc:
        return ()
    if "seed" in doc:
        raise SpecError("give seed (one run) or seeds (the matrix once per seed), not both; drop one of them")
    seeds = doc[SEEDS]
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise SpecError(f"seeds must be a non-empty list of integers >= 0, e.g. seeds = [0, 1, 2]; got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise SpecError(f"seeds lists a seed twice: {seeds}; give each seed once")
    return tuple(seeds)


def _scalar(value: Any, key: str, kind: type) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SpecError(f"{key} must be {'an integer' if kind is int else 'a string'}, got {value!r}")
    return value


def _str_list(value: Any, where: str, *, empty: bool = False) -> list[str]:
    items = [p.strip() for p in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise SpecError(f"{where} must be a list of names, e.g. [\"a\", \"b\"], got {value!r}")
    if not items and not empty:
        raise SpecError(f"{where} must not be empty")
    duplicates = sorted({v for v in items if items.count(v) > 1})
    if duplicates:
        raise SpecError(f"{where} lists {duplicates} more than once")
    return items


def _number(value: Any, where: str) -> float:
    """A number, or a fraction string such as ``"8/255"``."""
    if isinstance(value, bool):
        raise SpecError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            pass
    raise SpecError(f"{where}: expected a number or a fraction such as \"8/255\", got {value!r}")


def _numbers(value: Any, where: str, low: float, high: float) -> tuple[float, ...]:
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else [value]
    numbers = tuple(_number(v, where) for v in items)
    if not numbers:
        raise SpecError(f"{where} must not be empty")
    bad = [v for v in numbers if not (math.isfinite(v) and low <= v <= high)]
    if bad:
        raise SpecError(f"{where}: {bad} outside [{low}, {high}]")
    if len(set(numbers)) != len(numbers):
        raise SpecError(f"{where} lists a value more than once: {list(numbers)}")
    return numbers
