"""What drives a job's cost when no similar job ran before: images x image size x passes x the stack's purification.

Seconds of one worker, per kind:

- train: training images x epochs x (1 + the recipe's inner attack steps) x ``TRAIN_PASS``;
- fit: the defense's prior (``FIT_SECONDS``) scaled by training images, image area and epochs;
- craft: test images x passes (``bench.attack_passes``) x the cost of one pass: a classifier gradient
  (``GRAD_PASS``), plus, when the threat sees the purifier, its per-image purification x ``THROUGH``
  (differentiating through it costs several purifications; a score-based query costs one);
- evaluate: test images x draws x (a classifier forward + the stack's purification), the clean one also
  timing the purification of ``TIMING_IMAGES`` more;
- audit: its checks re-run the stack a few times per example (``AUDIT_PASSES``); the binarization
  test runs an inner attack per example (``BINARIZATION_PASSES`` per inner step).

Per-image terms scale with the image's area (H x W: a convolution's cost grows with it, hardly with
the input channels).  A stack's purification per image is the one recorded by its evaluations on
this dataset (``CostHistory.terms``), else the sum of its stages' priors; the classifier's pass is
the one recorded by oblivious crafts, else ``GRAD_PASS``.  The constants were read off the main job
(mnist5k, smallcnn, 2 cores, one thread per worker; ``benchmarks/cost_estimates.py`` compares them
with a recorded run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from bench.attack_passes import attack_passes, oblivious_start
from bench.classifiers import make_recipe
from bench.hashing import content_key
from bench.jobs import ClassifierRef, CraftTask, EvaluateTask, FitTask, Job, StageRef, TrainTask
from bench.models.robustbench_zoo import ZOO_PREFIX

PRIOR_AREA, PRIOR_TRAIN_SIZE = 28 * 28, 4000
GRAD_PASS = 2.6e-4  # s per image: forward and backward of smallcnn on 28 x 28
FORWARD = 2.7e-4  # s per image of an evaluation's classifier forward, batching and copying included
TRAIN_PASS = 2.4e-4  # s per training image per epoch per forward-backward (an adversarial recipe makes 1 + its steps)
#: Seconds per image of one purification at 28 x 28 (the main job's evaluations, its defense settings).
PURIFY = {"none": 0.0, "aid": 4.3e-3, "pixeldefend": 3.2e-3, "nrp": 9.5e-4, "dir": 3.8e-3, "defensegan": 5.6e-2}
PURIFY_OTHER = 4e-3
#: Seconds of a fit on 4,000 training images of 28 x 28 (the main job's fits), and the epochs they ran
#: (a stage setting other ``epochs`` scales its fit).
FIT_SECONDS = {"aid": 30.0, "pixeldefend": 49.0, "nrp": 69.0, "dir": 62.0, "defensegan": 20.0}
FIT_EPOCHS = {"aid": 4, "pixeldefend": 3}
FIT_OTHER = 40.0
#: Purifications one pass through the purifier costs, per threat: an adaptive gradient through AID's
#: unrolled purification cost about 5 (main job: PGD and APGD adaptive vs aid); a black-box query one.
THROUGH = {"adaptive": 5.0, "blackbox": 1.0}
AUXAWARE_GRAD = 2.6  # the auxiliary-aware loss adds the discriminator on the classifier's features: ~2.6 gradients
#: Attacks whose early stops leave most of the budget unused (AutoAttack drops fooled examples before
#: each of its attacks; C&W aborts early): the fraction of the budget they use, from the main job.
BUDGET_USED = {"autoattack": 0.15}
LOAD_SECONDS = 1.0  # a given classifier or a zoo model is loaded, not trained
TIMING_IMAGES = 1 + 8  # the clean evaluation's purification timing at batch size 1 (bench.jobs_execute)
AUDIT_PASSES = 5  # passes through the stack per example of the declared, traces and sanity checks (main job: 0.03-0.8 s)
BINARIZATION_PASSES = 18  # per example and inner step (main job: 15 s for aid, 0.5 s for none at 12 x 16)


@dataclass(frozen=True)
class DatasetScale:
    area: int  # H x W
    train_size: int


def stack_term(dataset: str, arch: str, stages: Iterable[StageRef]) -> str:
    """The history's name for a stack's per-image purification seconds on a dataset."""
    return "purify:" + content_key({"dataset": dataset, "arch": arch, "stack": [(s.base, s.params) for s in stages]})


def grad_term(dataset: str, arch: str) -> str:
    """The history's name for a classifier's per-image gradient pass."""
    return f"grad:{dataset}:{arch}"


class CostTerms:
    """The per-kind model above, its per-image terms taken from ``recorded`` where present."""

    def __init__(self, scales: Mapping[str, DatasetScale], recorded: Mapping[str, float]) -> None:
        self.scales, self.recorded = scales, recorded

    def _scale(self, dataset: str) -> DatasetScale:
        return self.scales.get(dataset, DatasetScale(PRIOR_AREA, PRIOR_TRAIN_SIZE))

    def _area(self, dataset: str) -> float:
        return self._scale(dataset).area / PRIOR_AREA

    def grad(self, ref: ClassifierRef) -> float:
        return self.recorded.get(grad_term(ref.dataset, ref.arch), GRAD_PASS * self._area(ref.dataset))

    def purify(self, ref: ClassifierRef, stages: tuple[StageRef, ...]) -> float:
        """Seconds per image of one purification by ``stages`` on ``ref``'s dataset."""
        recorded = self.recorded.get(stack_term(ref.dataset, ref.arch, stages))
        if recorded is not None:
            return recorded
        return sum(PURIFY.get(s.base, PURIFY_OTHER) for s in stages) * self._area(ref.dataset)

    def seconds(self, job: Job) -> float:
        task = job.task
        if isinstance(task, TrainTask):
            return self._train(task.classifier)
        if isinstance(task, FitTask):
            scale = self._scale(task.classifier.dataset)
            prior = FIT_SECONDS.get(task.stage.base, FIT_OTHER)
            measured_epochs = FIT_EPOCHS.get(task.stage.base)
            if measured_epochs and task.stage.params.get("epochs"):
                prior *= int(task.stage.params["epochs"]) / measured_epochs
            return prior * scale.train_size / PRIOR_TRAIN_SIZE * scale.area / PRIOR_AREA
        if isinstance(task, CraftTask):
            return self.craft(task)
        if isinstance(task, EvaluateTask):
            per_image = FORWARD * self._area(task.classifier.dataset) + self.purify(task.classifier, task.stack)
            timing = TIMING_IMAGES * self.purify(task.classifier, task.stack) if task.advset is None else 0.0
            return task.labels.n * task.draws * per_image + timing
        per_pass = self.grad(task.classifier) + self.purify(task.classifier, task.stack)
        if task.part == "binarization":
            settings = task.params.get("settings", {})
            return settings.get("binarization_n", 0) * settings.get("binarization_inner", 0) * BINARIZATION_PASSES * per_pass
        return task.labels.n * AUDIT_PASSES * per_pass

    def craft(self, task: CraftTask) -> float:
        passes = attack_passes(task.attack) * BUDGET_USED.get(task.attack.base, 1.0)
        grad = self.grad(task.target)
        model = task.threat.model
        per_pass = grad * AUXAWARE_GRAD if model == "auxaware" and task.lam else grad
        if task.stack and model in THROUGH:
            samples = int(task.threat.params.get("eot_samples") or 1) if any(s.randomized for s in task.stack) else 1
            per_pass = samples * (grad + THROUGH[model] * self.purify(task.target, task.stack))
        start = passes * grad if oblivious_start(task) else 0.0
        return task.n * (passes * per_pass + start)

    def _train(self, ref: ClassifierRef) -> float:
        if ref.external is not None or ref.arch.startswith(ZOO_PREFIX):
            return LOAD_SECONDS  # imported or downloaded, not trained
        config: Any = make_recipe(ref.cid()).config
        inner = getattr(config, "attack_steps", 0) if ref.recipe_base != "natural" else 0
        return self._scale(ref.dataset).train_size * config.epochs * (1 + inner) * TRAIN_PASS * self._area(ref.dataset)
