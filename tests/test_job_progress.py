"""Progress from inside a job: nested counters, throttled, shown in the worker's line."""

from __future__ import annotations

import io

import pytest
import torch

from bench.cache import ArtifactCache
from bench.job_progress import JobProgress
from bench.jobs import JobKind, Outcome, Status
from bench.plan import build_plan
from bench.run_context import ContextSettings, RunContext
from bench.run_progress import Progress
from bench.spec import parse_spec
from defenses import DEFENSES, FitContext


def test_nested_counters_give_the_fraction_and_the_text():
    heard: list[tuple[float, str]] = []
    progress = JobProgress(lambda fraction, text: heard.append((fraction, text)), interval=0.0)
    with progress.part("batch", 1, 3):
        for _ in range(31):
            progress.count("pass", 40, approximate=True)
    assert heard[0] == (pytest.approx(1 / 3), "batch 2/3")
    assert heard[-1] == (pytest.approx((1 + 31 / 40) / 3), "batch 2/3, pass 31/~40")
    with progress.part("epoch", 0, 2):
        progress.tick("batch", 50, 40)  # more than expected: the fraction stops at the unit's end
    assert heard[-1] == (pytest.approx(0.5), "epoch 1/2, batch 50/40")


def test_messages_are_throttled_and_nobody_listening_costs_nothing():
    now, heard = [0.0], []
    progress = JobProgress(lambda fraction, text: heard.append(text), interval=0.5, clock=lambda: now[0])
    with progress.part("batch", 0, 1):
        for step in range(100):
            now[0] = step * 0.01  # a step every 10 ms for a second
            progress.count("pass", 100)
    assert len(heard) == 2  # the part's start and one pass half a second later
    assert heard[-1] == "batch 1/1, pass 51/100"
    silent = JobProgress()
    with silent.part("batch", 0, 1):
        silent.count("pass", 10)
    assert not silent.listening and silent.text() == ""


def test_a_craft_reports_its_batches_and_passes(mnist, isolated_cache):
    spec = parse_spec({"n": 8, "batch_size": 4, "device": "cpu", "recipes": ["natural"], "defenses": ["none"],
                       "attacks": ["pgd"], "attack_params": {"pgd": {"steps": 5}}, "recipe_params": {"natural": {"epochs": 1}}})
    plan = build_plan(spec, {"mnist5k": mnist})
    craft = next(j for j in plan.ordered() if j.kind is JobKind.CRAFT)
    ctx = RunContext(ContextSettings(device="cpu", cache_root=str(ArtifactCache(isolated_cache).root)), {"mnist5k": mnist})
    heard: list[tuple[float, str]] = []
    ctx.job_progress = JobProgress(lambda fraction, text: heard.append((fraction, text)), interval=0.0)
    ctx.classifier(craft.task.target)  # trained first: its epochs and batches are heard too
    assert any(text.startswith("epoch 1/1, batch ") for _, text in heard)
    heard.clear()
    ctx.advset(craft.task)
    texts = [text for _, text in heard]
    assert texts[0] == "batch 1/2" and "batch 1/2, pass 5/~5" in texts and "batch 2/2, pass 5/~5" in texts
    assert [f for f, _ in heard] == sorted(f for f, _ in heard) and heard[-1][0] == pytest.approx(1.0)
    model = ctx.classifier(craft.task.target).model
    assert not model._forward_pre_hooks  # the counting hook is gone with the craft


def test_the_worker_line_shows_where_the_job_is(mnist):
    plan = build_plan(parse_spec({"n": 8, "device": "cpu", "recipes": ["natural"], "defenses": ["none"],
                                  "attacks": ["pgd"]}), {"mnist5k": mnist})
    job = next(j for j in plan.ordered() if j.kind is JobKind.CRAFT)
    now, stream = [0.0], io.StringIO()
    progress = Progress({job.key: 160.0}, workers=2, stream=stream, terminal=False, interval=30, clock=lambda: now[0])
    try:
        progress.started(job, 0)
        now[0] = 72.0
        progress.advanced(job.key, 0.6, "batch 2/3, pass 31/~40")
        [line] = progress.activity()
        assert line.startswith("w1: craft pgd/oblivious") and line.endswith("  batch 2/3, pass 31/~40 (01:12 of ~02:40)")
        assert progress.done_fraction() == pytest.approx(0.6)
        progress.finished(job, Outcome(job.key, Status.DONE, 72.0, "", "", "cpu"))
    finally:
        progress.close()


def test_a_defense_fit_reports_its_epochs_and_batches(natural_cnn, mnist):
    heard: list[tuple[float, str]] = []
    report = JobProgress(lambda fraction, text: heard.append((fraction, text)), interval=0.0)
    defense = DEFENSES.create("aid", taps="layer1,layer3", width=32, branch_depth=1, head_depth=1, train_steps=2, steps=2,
                              epochs=2, batch_size=32)
    defense.fit(FitContext(natural_cnn, mnist.train.head(64), "mnist5k", torch.device("cpu"), progress=False, report=report))
    texts = [text for _, text in heard]
    assert texts[:2] == ["epoch 1/2", "epoch 1/2, batch 1/2"] and texts[-1] == "epoch 2/2, batch 2/2"
    assert heard[-1][0] == pytest.approx(1.0) and [f for f, _ in heard] == sorted(f for f, _ in heard)
