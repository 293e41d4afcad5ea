"""Running one job in a ``RunContext``: the same code for every executor.

A job that raises is an ``Outcome`` with status ``failed`` and its error; it
never stops the matrix.  Each job seeds torch's global generator with the
run's seed before it starts, so its output does not depend on which jobs ran
before it in the same process.

The clean evaluation of each (classifier, defense stack) also times the
stack's purification alone at batch size 1 (Table 2 of the paper), and takes
its throughput from its own purification of the n clean test images at the
run's evaluation batch size, so no purifier runs over an extra large batch
only to be timed.
"""

from __future__ import annotations

import time
import traceback
from contextlib import nullcontext
from dataclasses import asdict
from typing import Any, Callable

import numpy as np
import torch

from attacks.norms import perturbation_norms
from bench.auditing.parts import run_part
from bench.component_params import resolved_settings
from bench.jobs import AuditTask, CraftTask, EvalResult, EvaluateTask, FitTask, Job, JobKind, Outcome, Status, Task, TrainTask
from bench.predictions import defended_predictions, predict_labels
from bench.run_context import RunContext
from bench.timestamps import now
from defenses.timing import time_purification

JobOutput = tuple[dict[str, Any], EvalResult | None]
TIMING_SINGLE_IMAGES = 8  # batch-1 calls averaged: enough for a stable mean, cheap for the slowest purifier


def _train(task: TrainTask, ctx: RunContext) -> JobOutput:
    loaded = ctx.classifier(task.classifier)
    meta = loaded.metadata
    details = {"trained_now": loaded.trained_now, "clean_accuracy": meta.get("clean_accuracy"),
               "train_seconds": meta.get("train_seconds")}
    if "imported_now" in meta:  # a given classifier (bench.external_classifiers) is imported, never trained
        details["imported_now"] = meta["imported_now"]
    return details, None


def _fit(task: FitTask, ctx: RunContext) -> JobOutput:
    _, metadata, fitted_now = ctx.stage(task.classifier, task.stage, task.seed)
    return {"fitted_now": fitted_now, "fit_seconds": metadata.get("fit_seconds")}, None


def _craft(task: CraftTask, ctx: RunContext) -> JobOutput:
    advset = ctx.advset(task)
    return {"crafted_now": advset.crafted_now, "craft_seconds": advset.metadata.get("craft_seconds"),
            "success_rate": float(advset.success.float().mean()) if len(advset.success) else 0.0}, None


def _evaluate(task: EvaluateTask, ctx: RunContext) -> JobOutput:
    model = ctx.classifier(task.classifier).model
    stack = ctx.stack(task.classifier, task.stack, task.seed)
    split = ctx.test_split(task.classifier.dataset, task.labels.n)
    x = split.x if task.advset is None else ctx.advset(task.advset).x_adv
    undefended = predict_labels(model, x, task.batch_size, ctx.device) == split.y
    draws, clock = [], None
    for draw in range(task.draws):  # randomized stages draw the same noise in every run, other noise per draw
        with ctx.job_progress.part("draw", draw, task.draws) if task.draws > 1 else nullcontext():
            predicted, timed = defended_predictions(model, stack, x, task.batch_size, ctx.device, task.seed + draw,
                                                    ctx.job_progress)
        draws.append((predicted == split.y).numpy().astype(bool))
        clock = clock or timed  # the first draw's: comparable with a deterministic stack's
    correct_draws = np.stack(draws)
    details: dict[str, Any] = {"stage_settings": {label: resolved_settings(defense, stage.params)
                                                  for (label, defense), stage in zip(stack.stages, task.stack)}}
    max_perturbation = None
    if task.advset is not None:
        attack = task.advset.attack.instance
        details["attack_settings"] = resolved_settings(attack, task.advset.attack.params)
        max_perturbation = float(perturbation_norms(x, split.x, attack.norm).max()) if len(x) else 0.0
    result = EvalResult(correct_draws.all(axis=0), undefended.numpy().astype(bool), clock.seconds,
                        correct_draws if task.draws > 1 else None, max_perturbation)
    details["accuracy"] = float(np.mean(result.correct))
    if task.draws > 1:
        details["accuracy_mean_draws"] = float(correct_draws.mean())
    if task.advset is None:  # once per (classifier, stack), after the flags: its random draws change no result
        timing = time_purification(stack.purify, split.x[:TIMING_SINGLE_IMAGES].to(ctx.device),
                                   single_images=TIMING_SINGLE_IMAGES, timed_batch=clock)
        details["purification_timing"] = asdict(timing)
    return details, result


def _audit(task: AuditTask, ctx: RunContext) -> JobOutput:
    checks, flags = run_part(task, ctx)
    return {"checks": [check.row() for check in checks], "flags": flags}, None


RUNNERS: dict[JobKind, Callable[[Task, RunContext], JobOutput]] = {
    JobKind.TRAIN: _train, JobKind.FIT: _fit, JobKind.CRAFT: _craft, JobKind.EVALUATE: _evaluate, JobKind.AUDIT: _audit,
}


def _seed(task: Task) -> int:
    return task.classifier.seed if isinstance(task, TrainTask) else task.seed


def execute(job: Job, ctx: RunContext) -> Outcome:
    """Run ``job``; any exception becomes a failed outcome carrying the traceback."""
    started, begin, cpu = now(), time.perf_counter(), time.process_time()
    torch.manual_seed(_seed(job.task))
    try:
        details, result = RUNNERS[job.kind](job.task, ctx)
    except Exception as exc:  # noqa: BLE001 - a failing job is recorded and the matrix goes on
        error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-4)}"
        return Outcome(job.key, Status.FAILED, time.perf_counter() - begin, started, now(), str(ctx.device), error=error)
    # CPU seconds of the whole process: on a shared machine they show the work where wall time shows the waiting
    details = {**details, "cpu_seconds": time.process_time() - cpu}
    return Outcome(job.key, Status.DONE, time.perf_counter() - begin, started, now(), str(ctx.device), details=details,
                   result=result)
