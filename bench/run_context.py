"""What the jobs of one process share: loaded datasets, classifiers and fitted defense stages.

Every artifact is obtained the same way, whichever job or process asks: from
the artifact cache, or built now and cached, then read back from the cache.
So a job that runs after a crash, in another Ray worker, or in a later run
sees exactly the tensors an uninterrupted run saw.  The memo lives in the
context object (one per executor process), never at module level.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import torch

from attacks.iterative import IterativeAttack
from attacks.trace import TRACE_TENSORS, AttackTrace, concat_traces
from bench.attack_passes import craft_passes
from bench.cache import Artifact, ArtifactCache
from bench.classifiers import LoadedClassifier, obtain_classifier
from bench.data import DatasetSplits, Split, load_dataset
from bench.defense_objects import new_defense
from bench.device import resolve_device
from bench.external_classifiers import obtain_external
from bench.job_progress import JobProgress
from bench.jobs import ClassifierRef, CraftTask, StageRef
from defenses import FitContext, Stack
from defenses.timing import time_fit

ADVSETS = "advsets"
DEFENSES_KIND = "defenses"


@dataclass(frozen=True)
class ContextSettings:
    """Picklable settings a worker needs to rebuild a context."""

    device: str = "auto"
    cache_root: str | None = None
    threads: int | None = None  # torch intra-op threads; CPU results depend on it
    progress: bool = False


@dataclass(frozen=True)
class AdvSet:
    x_adv: torch.Tensor
    success: torch.Tensor
    metadata: dict[str, Any]
    crafted_now: bool
    trace: dict[str, torch.Tensor]  # an iterative attack's steps (``attacks.trace.TRACE_TENSORS``); empty for others

    def head(self, n: int) -> "AdvSet":
        """The set of the first ``n`` examples (a larger set's examples are crafted independently of each other)."""
        return AdvSet(self.x_adv[:n], self.success[:n], self.metadata, self.crafted_now,
                      {name: steps[:, :n] for name, steps in self.trace.items()})




class RunContext:
    def __init__(self, settings: ContextSettings, datasets: Mapping[str, DatasetSplits] | None = None) -> None:
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.cache = ArtifactCache(settings.cache_root)
        if settings.threads is not None:
            torch.set_num_threads(settings.threads)
        self._datasets: dict[str, DatasetSplits] = dict(datasets or {})
        self._classifiers: dict[str, LoadedClassifier] = {}
        self._stages: dict[str, Any] = {}
        self.job_progress = JobProgress()  # where the running job is; executors that show it give it a listener

    def dataset(self, name: str) -> DatasetSplits:
        if name not in self._datasets:
            self._datasets[name] = load_dataset(name)
        return self._datasets[name]

    def test_split(self, dataset: str, n: int) -> Split:
        return self.dataset(dataset).test.head(n)

    def classifier(self, ref: ClassifierRef) -> LoadedClassifier:
        """The frozen classifier ``ref``: cached, or trained now and cached."""
        if ref.key not in self._classifiers:
            if ref.external is not None:
                loaded = obtain_external(ref.external, self.dataset(ref.dataset), self.device, self.cache)
            else:
                loaded = obtain_classifier(ref.cid(), data=self.dataset(ref.dataset), device=self.device, cache=self.cache,
                                           progress=self.settings.progress, report=self.job_progress)
            if loaded.key != ref.key:
                raise RuntimeError(f"planned classifier key {ref.key} but obtained {loaded.key} for {ref.label()}")
            for p in loaded.model.parameters():
                p.requires_grad_(False)
            self._classifiers[ref.key] = loaded
        return self._classifiers[ref.key]

    def stage(self, ref: ClassifierRef, stage: StageRef, seed: int) -> tuple[Any, dict[str, Any], bool]:
        """The defense stage for ``ref``, its fitted state loaded; returns (defense, metadata, fitted_now).

        The life cycle of ``defenses.base``: a fresh object is fitted once and
        its state cached; every use gets another fresh object, ``build(ctx)``,
        then the cached state loaded strictly, so a run from the cache sees
        exactly what the run that fitted it saw.
        """
        if stage.key in self._stages:
            return self._stages[stage.key]
        ctx = FitContext(classifier=self.classifier(ref).model, train=self.dataset(ref.dataset).train, dataset=ref.dataset,
                         device=self.device, seed=seed, progress=self.settings.progress, report=self.job_progress)
        metadata: dict[str, Any] = {}
        fitted_now = False
        if stage.needs_fit:
            artifact = self.cache.load(DEFENSES_KIND, stage.fit_key)
            if artifact is None:
                trainee = new_defense(stage.base, stage.params, stage.instance)
                seconds = time_fit(trainee, ctx)
                artifact = self._save_and_reload(DEFENSES_KIND, stage.fit_key, trainee.state_dict(),
                                                 {"defense": stage.label, "base": stage.base, "classifier": ref.label(),
                                                  "fit_seconds": seconds, "device": str(self.device),
                                                  "identity": trainee.fit_identity()})
                fitted_now = True
            metadata = artifact.metadata
        defense = new_defense(stage.base, stage.params, stage.instance)
        defense.build(ctx)
        if stage.needs_fit:
            defense.load_state_dict({k: v.to(self.device) for k, v in artifact.tensors.items()})
        defense.to(self.device)
        self._stages[stage.key] = (defense, metadata, fitted_now)
        return self._stages[stage.key]

    def stack(self, ref: ClassifierRef, stages: tuple[StageRef, ...], seed: int):  # -> defenses.Stack
        return Stack([(s.label, self.stage(ref, s, seed)[0]) for s in stages])

    def advset(self, task: CraftTask) -> AdvSet:
        """The adversarial set of ``task``: cached, or crafted now and cached."""
        artifact = self.cache.load(ADVSETS, task.key)
        crafted_now = artifact is None
        if artifact is None:
            x_adv, success, trace, seconds = self._craft(task)
            artifact = self._save_and_reload(ADVSETS, task.key, {"x_adv": x_adv, "success": success.to(torch.uint8), **trace},
                                             {"attack": task.attack.label, "threat": task.threat.label, "eps": task.eps,
                                              "lam": task.lam, "target": task.target.label(), "craft_seconds": seconds,
                                              "device": str(self.device)})
        trace = {name: artifact.tensors[name] for name in TRACE_TENSORS if name in artifact.tensors}
        return AdvSet(artifact.tensors["x_adv"], artifact.tensors["success"].bool(), artifact.metadata, crafted_now, trace)

    def _save_and_reload(self, kind: str, key: str, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Artifact:
        """Save, then use what the cache holds (the saved tensors, should another process be replacing the files)."""
        self.cache.save(kind, key, tensors, metadata)
        return self.cache.load(kind, key) or Artifact({k: v.detach().cpu() for k, v in tensors.items()}, metadata)

    def _craft(self, task: CraftTask) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], float]:
        model = self.classifier(task.target).model
        stack = self.stack(task.target, task.stack, task.seed) if task.stack is not None else None
        attack, threat = task.attack.instance, task.threat.instance
        split = self.test_split(task.target.dataset, task.n)
        generator = torch.Generator(device=self.device).manual_seed(task.seed)
        begin = time.perf_counter()
        xs, successes, traces = [], [], []
        batches = -(-len(split) // task.batch_size)
        with self._counted_passes(model, task):
            for b, i in enumerate(range(0, len(split), task.batch_size)):
                with self.job_progress.part("batch", b, batches):
                    x = split.x[i : i + task.batch_size].to(self.device)
                    y = split.y[i : i + task.batch_size].to(self.device)
                    trace = AttackTrace()
                    traced = attack.with_trace(trace) if isinstance(attack, IterativeAttack) else attack
                    result = threat.craft(traced, model, stack, x, y, task.eps, lam=task.lam, generator=generator)
                xs.append(result.x_adv.detach().cpu())
                successes.append(result.success.cpu())
                traces.append(trace.tensors() if not trace.empty else {})
        return torch.cat(xs), torch.cat(successes), concat_traces(traces), time.perf_counter() - begin

    @contextmanager
    def _counted_passes(self, model: torch.nn.Module, task: CraftTask) -> Iterator[None]:
        """Report each forward pass of the attacked classifier as progress inside the current batch.

        A forward pre-hook, not a wrapper: the attack sees the classifier
        itself (its taps and attributes), and nobody listening adds no hook.
        """
        if not self.job_progress.listening:
            yield
            return
        budget = craft_passes(task)
        progress = self.job_progress

        def count(_module: torch.nn.Module, _inputs: Any) -> None:
            progress.count("pass", budget, approximate=True)

        handle = model.register_forward_pre_hook(count)
        try:
            yield
        finally:
            handle.remove()
