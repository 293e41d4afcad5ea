"""Planning: a validated spec -> a DAG of train, fit, craft and evaluate jobs, with reuse.

Each job's key hashes everything that determines its output, and a job asked
for twice is planned once.  That is where the savings come from: an oblivious
or transfer adversarial set depends on the attacked classifier only, so one
set serves every defense stack on it (and a transfer set every target sharing
its surrogate); a defense stage is fitted once per classifier and serves every
stack containing it.  ``Plan.requested`` counts, per kind, the distinct
(consumer, job) pairs: a job per evaluation for crafts, per (classifier,
stack) for fits, per target and transfer source for training.  A planner
without reuse would run one job per pair, so ``requested - jobs`` is what
reuse saved.

Components come built from spec validation (``Spec.components``) and are
taken as they are; an attack gets the dataset's preset here, once per
(attack, dataset).

Jobs are kept in insertion order, which is topological: a job is added only
after the jobs it depends on.

Planning reads no images when told so (``read_data=False``, the dry run): a
registered dataset's test size and fingerprint come from its metadata
(``bench.data.metadata``).  Where the fingerprint needs the files and they are
absent (TinyImageNet), the keys are provisional and ``Plan.provisional`` says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

from attacks import attack_preset
from attacks.iterative import IterativeAttack
from attacks.threats import DEFAULT_THREAT, Axis, ThreatModel
from bench.auditing.planning import plan_audit
from bench.classifiers import ClassifierId, classifier_key
from bench.data import DatasetSplits, load_dataset
from bench.data.metadata import DatasetInfo, dataset_info
from bench.errors import DataUnavailableError
from bench.external_classifiers import check_external, external_key
from bench.hashing import content_key
from bench.jobs import (AttackRef, ClassifierRef, CraftTask, EvaluateTask, FitTask, Job, JobKind, ResultLabels, StageRef,
                        ThreatRef, TrainTask)
from bench.plan_sources import TransferSource
from bench.spec import CLEAN, ZOO_PREFIX, Block, Component, Spec, SpecError
from defenses import parse_stack

CLEAN_THREAT = DEFAULT_THREAT  # the clean column belongs with the paper's oblivious tables


@dataclass
class Plan:
    spec: Spec
    jobs: dict[str, Job] = field(default_factory=dict)
    requested: Counter = field(default_factory=Counter)
    datasets: dict[str, DatasetSplits] = field(default_factory=dict)  # loaded while planning; the local executor reuses them
    provisional: dict[str, str] = field(default_factory=dict)  # dataset -> why its jobs' keys are not final

    def ordered(self) -> list[Job]:
        return list(self.jobs.values())

    def counts(self) -> dict[JobKind, int]:
        counts = Counter(job.kind for job in self.jobs.values())
        return {kind: counts[kind] for kind in JobKind}

    def saved(self) -> dict[JobKind, int]:
        """Jobs a planner without reuse would have run on top of these."""
        counts = self.counts()
        return {kind: self.requested[kind] - counts[kind] for kind in JobKind}

    def table(self, done: Iterable[str] = ()) -> str:
        """Jobs of each kind, how many reuse saved, how many are done already and how many remain."""
        done = set(done) & self.jobs.keys()
        counts, saved = self.counts(), self.saved()
        done_by_kind = Counter(self.jobs[k].kind for k in done)
        rows = [(kind.value, counts[kind], saved[kind], done_by_kind[kind], counts[kind] - done_by_kind[kind]) for kind in JobKind]
        rows.append(("total", *(sum(r[i] for r in rows) for i in range(1, 5))))
        header = ("kind", "jobs", "saved by reuse", "done", "to run")
        lines = [f"{header[0]:<10}" + "".join(f"{h:>16}" for h in header[1:])]
        lines += [f"{r[0]:<10}" + "".join(f"{v:>16}" for v in r[1:]) for r in rows]
        return "\n".join(lines)


class Planner:
    """Builds a ``Plan``; memoises datasets and attacks with their presets for the duration of one planning."""

    def __init__(self, spec: Spec, datasets: Mapping[str, DatasetSplits] | None = None, read_data: bool = True) -> None:
        self.spec, self.read_data = spec, read_data
        self.plan = Plan(spec, datasets=dict(datasets or {}))
        self._data = self.plan.datasets
        self._attacks: dict[tuple[str, str], tuple[AttackRef, tuple[float, ...]]] = {}
        self._pairs: set[tuple[str, str]] = set()
        self._audits: list[tuple[ClassifierRef, str, tuple[StageRef, ...], int]] = []
        self.seed = spec.seed  # of the jobs being planned: the matrix is planned once per seed of the spec

    def build(self) -> Plan:
        for seed in self.spec.run_seeds:
            self.seed = seed
            for block in self.spec.blocks:
                self._block(block)
            for audit in self._audits:  # after the matrix, so that an audit can read the matrix's own sets
                plan_audit(self, *audit)
            self._audits.clear()
        return self.plan

    # -- helpers -------------------------------------------------------------

    def _add(self, job: Job, consumer: str) -> Job:
        if (consumer, job.key) not in self._pairs:
            self._pairs.add((consumer, job.key))
            self.plan.requested[job.kind] += 1
        return self.plan.jobs.setdefault(job.key, job)

    def _dataset(self, name: str) -> DatasetSplits:
        if name not in self._data:
            self._data[name] = load_dataset(name)
        return self._data[name]

    def _info(self, name: str) -> DatasetInfo:
        """Test size and fingerprint: from the loaded data, or (``read_data=False``) from metadata where that suffices."""
        if name in self._data or self.read_data:
            return DatasetInfo.of(self._dataset(name))
        known = dataset_info(name)
        if known is not None and known.fingerprint is not None:
            return known
        try:
            return DatasetInfo.of(self._dataset(name))
        except DataUnavailableError as exc:
            if known is None:
                raise
            self.plan.provisional[name] = f"its fingerprint needs the files ({exc})"
            return DatasetInfo(name, known.num_classes, known.image_shape, known.train_size, known.test_size,
                               f"{name}/unread")

    def _n(self, dataset: str) -> int:
        size = self._info(dataset).test_size
        if self.spec.n is not None and self.spec.n > size:
            raise SpecError(f"n = {self.spec.n} but {dataset} has only {size} test examples; use n <= {size}")
        return self.spec.n or size

    # -- jobs ----------------------------------------------------------------

    def _classifier(self, dataset: str, arch: str, recipe: str, seed: int, consumer: str) -> ClassifierRef:
        if arch in self.spec.classifiers:
            return self._external(dataset, arch, consumer)
        comp = self.spec.recipes.get(recipe, Component(recipe, recipe))
        if arch.startswith(ZOO_PREFIX):
            key = f"zoo-{arch[len(ZOO_PREFIX):]}"
        else:
            key = classifier_key(ClassifierId(dataset, arch, comp.base, seed, dict(comp.params)), self._info(dataset))
        ref = ClassifierRef(dataset, arch, recipe, comp.base, dict(comp.params), seed, key)
        self._add(Job(f"train-{key}", JobKind.TRAIN, f"train {ref.label()}", (), TrainTask(ref)), consumer)
        return ref

    def _external(self, dataset: str, label: str, consumer: str) -> ClassifierRef:
        """A classifier trained elsewhere; checked against the dataset now, so a bad file fails before any work."""
        ext = self.spec.classifiers[label]
        data = self._dataset(dataset)
        key = external_key(ext, data)
        ref = ClassifierRef(dataset, ext.arch, label, ext.source, {}, self.seed, key, external=ext)
        if f"train-{key}" not in self.plan.jobs:
            check_external(ext, data)
        self._add(Job(f"train-{key}", JobKind.TRAIN, f"train {ref.label()}", (), TrainTask(ref)), consumer)
        return ref

    def _stack(self, ref: ClassifierRef, name: str) -> tuple[StageRef, ...]:
        stages = []
        for label in parse_stack(name):
            comp = self.spec.defenses.get(label, Component(label, label))
            defense = self.spec.components.defense(label)
            key = content_key({"kind": "defense", "classifier": ref.key, "defense": defense.identity(), "seed": self.seed})
            fit_key = content_key({"kind": "defense", "classifier": ref.key, "defense": defense.fit_identity(),
                                   "seed": self.seed})
            if comp.digest is not None:  # an object from Python: its weights and attributes count too
                key, fit_key = (content_key({"stage": k, "object": comp.digest}) for k in (key, fit_key))
            stage = StageRef(label, comp.base, dict(comp.params), key, bool(defense.needs_fit), fit_key, comp.instance,
                             bool(defense.randomized))
            if stage.needs_fit:
                self._add(Job(stage.fit_job, JobKind.FIT, f"fit {label} on {ref.label()}", (f"train-{ref.key}",),
                              FitTask(ref, stage, self.seed)), f"{ref.key}/{name}")
            stages.append(stage)
        return tuple(stages)

    def _attack(self, label: str, dataset: str) -> tuple[AttackRef, tuple[float, ...], dict[str, Any]]:
        """The attack with the dataset's preset filled in, its default eps list and its code identity."""
        if (label, dataset) not in self._attacks:
            given = self.spec.components.attack(label)
            preset = attack_preset(dataset, given.instance.norm, given.base,
                                   iterative=isinstance(given.instance, IterativeAttack))
            params = {**{k: v for k, v in preset.items() if k != "eps"}, **given.params}
            attack = given if params == given.params else AttackRef(label, given.base, params)
            eps = self.spec.attack_eps.get(label) or self.spec.default_eps or (float(preset["eps"]),)
            self._attacks[(label, dataset)] = attack, eps
        attack, eps = self._attacks[(label, dataset)]
        return attack, eps, attack.code

    def _craft_key(self, target: ClassifierRef, stack: tuple[StageRef, ...] | None, attack: AttackRef, code: dict[str, Any],
                   threat: ThreatRef, version: str, eps: float, lam: float | None, n: int) -> str:
        note = self._gradient_note(threat, stack)
        identity = {"kind": "advset", "target": target.key, "stack": [s.key for s in stack] if stack is not None else None,
                    "attack": {"base": attack.base, "params": attack.params, **code},
                    "threat": {"model": threat.model, "params": threat.params, "version": version},
                    "eps": eps, "lam": lam, "seed": self.seed, "n": n, "batch_size": self.spec.batch_size}
        return content_key({**identity, "gradient_note": note} if note else identity)

    def _has_craft(self, target: ClassifierRef, stack: tuple[StageRef, ...] | None, attack: AttackRef, code: dict[str, Any],
                   threat: ThreatRef, version: str, eps: float, lam: float | None, n: int) -> bool:
        """Whether the plan already crafts this set."""
        return f"craft-{self._craft_key(target, stack, attack, code, threat, version, eps, lam, n)}" in self.plan.jobs

    def _craft(self, target: ClassifierRef, stack: tuple[StageRef, ...] | None, attack: AttackRef, code: dict[str, Any],
               threat: ThreatRef, version: str, eps: float, lam: float | None, n: int, consumer: str) -> Job:
        note = self._gradient_note(threat, stack)
        key = self._craft_key(target, stack, attack, code, threat, version, eps, lam, n)
        task = CraftTask(key, target, stack, attack, threat, eps, lam, self.seed, n, self.spec.batch_size)
        deps = (f"train-{target.key}",) + tuple(s.fit_job for s in stack or () if s.needs_fit)
        versus = f" vs {'+'.join(s.label for s in stack)}" if stack is not None else ""
        versus += f" ({note})" if note else ""
        lam_text = f" lam={lam:g}" if lam is not None else ""
        return self._add(Job(f"craft-{key}", JobKind.CRAFT,
                             f"craft {attack.label}/{threat.label} eps={eps:g}{lam_text} on {target.label()}{versus}", deps, task),
                         consumer)

    def _gradient_note(self, threat: ThreatRef, stack: tuple[StageRef, ...] | None) -> str | None:
        """The threat's approximation of some stages' gradients (``ThreatModel.gradient_note``): in the label and the key."""
        if stack is None:
            return None
        return threat.instance.gradient_note([(s.label, self.spec.components.defense(s.label)) for s in stack])

    def _eval_key(self, ref: ClassifierRef, stack: tuple[StageRef, ...], advset: CraftTask | None, labels: ResultLabels,
                  draws: int) -> str:
        identity = {"kind": "evaluate", "classifier": ref.key, "stack": [s.key for s in stack],
                    "advset": advset.key if advset else CLEAN, "labels": asdict(labels), "seed": self.seed,
                    "batch_size": self.spec.batch_size}
        return "evaluate-" + content_key({**identity, "draws": draws} if draws > 1 else identity)

    def _evaluate(self, ref: ClassifierRef, stack_name: str, stack: tuple[StageRef, ...], craft: Job | None,
                  labels: ResultLabels) -> None:
        advset: CraftTask | None = craft.task if craft is not None else None  # type: ignore[assignment]
        draws = self.spec.draws if any(s.randomized for s in stack) else 1  # a deterministic stack is evaluated once
        key = self._eval_key(ref, stack, advset, labels, draws)
        deps = (f"train-{ref.key}",) + tuple(s.fit_job for s in stack if s.needs_fit) + ((craft.key,) if craft else ())
        what = labels.attack if craft is None else f"{labels.attack}/{labels.threat} eps={labels.eps:g}"
        what += f" lam={labels.lam:g}" if labels.lam is not None else ""
        what += f" from {labels.source}" if labels.source else ""
        self._add(Job(key, JobKind.EVALUATE, f"evaluate {stack_name} | {what} | {ref.label()}", deps,
                      EvaluateTask(ref, stack, advset, labels, self.seed, self.spec.batch_size, draws)), key)

    # -- the matrix ----------------------------------------------------------

    def _block(self, block: Block) -> None:
        for dataset in block.datasets:
            n = self._n(dataset)
            for arch in block.archs:
                if arch in self.spec.classifiers:  # trained elsewhere: one classifier, no recipe
                    self._cells(block, self._external(dataset, arch, "target"), n)
                    continue
                for recipe in block.recipes:
                    self._cells(block, self._classifier(dataset, arch, recipe, self.seed, "target"), n)

    def _cells(self, block: Block, ref: ClassifierRef, n: int) -> None:
        stacks = {name: self._stack(ref, name) for name in block.defenses}
        base = dict(dataset=ref.dataset, arch=ref.arch, recipe=ref.recipe, seed=ref.seed, n=n)
        for name, stages in stacks.items():
            self._evaluate(ref, name, stages, None, ResultLabels(**base, defense=name, attack=CLEAN, attack_base=CLEAN,
                                                                 threat=CLEAN_THREAT, threat_model=CLEAN_THREAT, eps=0.0, lam=None,
                                                                 source=None, source_kind=None, source_classifier=None))
            if block.audit:
                self._audits.append((ref, name, stages, n))
        threats = [self.spec.components.threat(t) for t in block.threats]
        models: dict[str, ThreatModel] = {threat.label: threat.instance for threat in threats}
        crafters = {None: (ref, dict(source=None, source_kind=None, source_classifier=None))}
        if any(Axis.SOURCES in model.axes for model in models.values()):
            crafters.update({source: self._surrogate(ref, source) for source in block.sources})
        for attack_label in block.attacks:
            attack, default_eps, code = self._attack(attack_label, ref.dataset)
            for threat in threats:
                model = threat.instance
                for eps in block.eps or default_eps:
                    for lam in block.lam if Axis.LAM in model.axes else (None,):
                        for source in block.sources if Axis.SOURCES in model.axes else (None,):
                            crafter, source_labels = crafters[source]
                            self._cell(ref, stacks, crafter, attack, code, threat, model, eps, lam, {**base, **source_labels})

    def _surrogate(self, ref: ClassifierRef, source: TransferSource) -> tuple[ClassifierRef, dict[str, Any]]:
        if ref.external is not None and source.recipe is None and source.arch not in self.spec.classifiers:
            raise SpecError(f"transfer source {source.text!r} for {ref.label()}: that classifier was not trained here, so "
                            "its surrogate needs a recipe, e.g. sources = [\"same/natural\", \"vgg19/natural\"]")
        arch, recipe, seed = source.resolve(ref.arch, ref.recipe, ref.seed)
        crafter = self._classifier(ref.dataset, arch, recipe, seed, f"{ref.key}/{source.text}")
        if crafter.key == ref.key:
            raise SpecError(f"transfer source {source.text!r} is the target {ref.label()} itself; use another classifier")
        return crafter, dict(source=source.text, source_kind=TransferSource.kind(crafter.arch, ref.arch),
                             source_classifier=crafter.label())

    def _cell(self, ref: ClassifierRef, stacks: dict[str, tuple[StageRef, ...]], crafter: ClassifierRef, attack: AttackRef,
              code: dict[str, Any], threat: ThreatRef, model: ThreatModel, eps: float, lam: float | None,
              labels: dict[str, Any]) -> None:
        """One attack setting against every stack: a set per stack, or one shared set when the threat allows."""
        per_stack = model.depends_on_stack
        for name, stages in stacks.items():
            result_labels = ResultLabels(**labels, defense=name, attack=attack.label, attack_base=attack.base,
                                         threat=threat.label, threat_model=threat.model, eps=eps, lam=lam)
            craft = self._craft(crafter, stages if per_stack else None, attack, code, threat, model.VERSION, eps, lam, labels["n"],
                                consumer=f"{ref.key}/{name}/{result_labels}")
            self._evaluate(ref, name, stages, craft, result_labels)


def build_plan(spec: Spec, datasets: Mapping[str, DatasetSplits] | None = None, read_data: bool = True) -> Plan:
    """The job graph of ``spec``; each dataset not in ``datasets`` is loaded once, to key classifiers by its fingerprint.

    ``read_data=False``: datasets whose metadata suffices are not loaded (see the module docstring).
    """
    return Planner(spec, datasets, read_data).build()
