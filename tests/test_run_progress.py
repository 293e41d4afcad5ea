"""Cost estimates, longest-path-first scheduling and cost-weighted progress."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from bench.cache import ArtifactCache
from bench.cost_terms import LOAD_SECONDS, THROUGH, CostTerms
from bench.jobs import ClassifierRef, EvalResult, FitTask, Job, JobKind, Outcome, StageRef, Status, TrainTask
from bench.plan import build_plan
from bench.run_costs import CACHED_SECONDS, CostHistory, cost_model, signature
from bench.run_progress import Progress
from bench.run_schedule import Schedule
from bench.spec import parse_spec

SPEC = {"n": 40, "device": "cpu", "recipes": ["natural", "madry"], "defenses": ["none", "aid"], "attacks": ["pgd"]}


@pytest.fixture(scope="module")
def plan(mnist):
    return build_plan(parse_spec(SPEC), {"mnist5k": mnist})


def _outcome(job, seconds: float, **details) -> Outcome:
    return Outcome(job.key, Status.DONE, seconds, "", "", "cpu", details=details)


def test_priors_then_recorded_costs_then_the_cache(plan, isolated_cache):
    cache = ArtifactCache(isolated_cache)
    jobs = plan.ordered()
    model = cost_model(cache, plan.datasets)
    train = next(j for j in jobs if j.kind is JobKind.TRAIN)
    craft = next(j for j in jobs if j.kind is JobKind.CRAFT)
    assert model.estimate(train) == pytest.approx(model.prior(train)) and model.estimate(train) > 0
    assert model.estimate(craft) == pytest.approx(model.prior(craft)) and model.estimate(craft) > 0
    history = CostHistory(cache.root)
    history.record(train, _outcome(train, 7.0, trained_now=True))
    history.record(craft, _outcome(craft, 2.0, crafted_now=False))  # read from the cache: says nothing of the cost
    history.record(craft, _outcome(craft, 4.0, crafted_now=True))
    model = cost_model(cache, plan.datasets)
    assert model.estimate(train) == pytest.approx(7.0)
    assert model.estimate(craft) == pytest.approx(4.0)
    other_n = build_plan(parse_spec({**SPEC, "n": 80}), plan.datasets)
    craft80 = next(j for j in other_n.ordered() if j.kind is JobKind.CRAFT and signature(j) == signature(craft))
    assert model.estimate(craft80) == pytest.approx(8.0)  # seconds per example carry over to another n
    cache.save("classifiers", train.task.classifier.key, {}, {})
    assert model.estimate(train) == CACHED_SECONDS


def test_the_longest_chain_starts_first(plan):
    jobs = plan.ordered()
    trains = [j for j in jobs if j.kind is JobKind.TRAIN]
    assert len(trains) == 2 and jobs.index(trains[0]) < jobs.index(trains[1])
    slow = trains[1]  # planned second; make its chain the long one
    costs = {j.key: (100.0 if j.key == slow.key else 1.0) for j in jobs}
    assert Schedule(jobs, (), costs).ready()[0].key == slow.key
    assert Schedule(jobs, ()).ready()[0].key == trains[0].key  # without costs, plan order
    # a cheap train heading an expensive chain goes before an expensive train heading nothing
    fit = next(j for j in jobs if j.kind is JobKind.FIT and trains[0].key in j.deps)
    costs = {j.key: 1.0 for j in jobs} | {slow.key: 50.0, fit.key: 200.0}
    schedule = Schedule(jobs, (), costs)
    assert schedule.path_cost[trains[0].key] >= 201.0 and schedule.ready()[0].key == trains[0].key


def test_progress_is_weighted_by_cost_and_plain_off_a_terminal(plan):
    jobs = plan.ordered()[:3]
    costs = {jobs[0].key: 90.0, jobs[1].key: 9.0, jobs[2].key: 1.0}
    now = [0.0]
    stream = io.StringIO()
    progress = Progress(costs, workers=2, stream=stream, terminal=False, interval=0.05, clock=lambda: now[0])
    try:
        progress.started(jobs[2], 0)
        progress.started(jobs[0], 1)
        now[0] = 10.0
        progress.finished(jobs[2], _outcome(jobs[2], 10.0))
        assert progress.done_fraction() == pytest.approx(0.01)  # one job of three, 1% of the cost
        progress.advanced(jobs[0].key, 0.5)
        assert progress.done_fraction() == pytest.approx(0.46)
        assert progress.eta() == pytest.approx(10.0 * 0.54 / 0.46)
        [line] = progress.activity()
        assert line.startswith("w2: ") and line.endswith("(50%, 00:10 of ~01:30)")
        now[0] = 25.0
        time.sleep(0.5)  # the ticker says what runs once the interval has passed
    finally:
        progress.close()
    text = stream.getvalue()
    assert "\r" not in text
    assert "1/3 jobs" in text and f"done {jobs[2].label}" in text
    assert "running:\n  w2: " in text and "(50%, 00:25 of ~01:30)" in text


def test_a_terminal_gets_a_bar_and_a_line_per_worker(plan):
    jobs = plan.ordered()[:2]

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress({j.key: 1.0 for j in jobs}, workers=2, stream=stream)
    try:
        progress.started(jobs[0], 1)
        progress.finished(jobs[0], _outcome(jobs[0], 1.0))
    finally:
        progress.close()
    assert "\r" in stream.getvalue() and "w1: idle" in stream.getvalue() and "1/2 jobs" in stream.getvalue()


def test_every_kind_of_job_has_an_estimate(mnist, isolated_cache):
    plan = build_plan(parse_spec({**SPEC, "audit": True}), {"mnist5k": mnist})
    kinds = {job.kind for job in plan.ordered()}
    assert JobKind.AUDIT in kinds and len(kinds) == len(JobKind)
    estimates = cost_model(ArtifactCache(isolated_cache), plan.datasets).estimates(plan.ordered())
    assert all(seconds > 0 for seconds in estimates.values())
    assert len({signature(j) for j in plan.ordered() if j.kind is JobKind.AUDIT}) > 1  # audit parts differ in cost


def test_the_model_orders_jobs_by_what_drives_their_cost(mnist, isolated_cache):
    """Through a purifier an adaptive craft costs more than an oblivious one, and more through a slower purifier."""
    spec = {"n": 40, "device": "cpu", "recipes": ["madry"], "defenses": ["none", "aid", "defensegan"], "attacks": ["pgd"],
            "threats": ["oblivious", "adaptive"]}
    plan = build_plan(parse_spec(spec), {"mnist5k": mnist})
    model = cost_model(ArtifactCache(isolated_cache), plan.datasets)
    crafts = {j.label: model.estimate(j) for j in plan.ordered() if j.kind is JobKind.CRAFT}
    [oblivious] = [s for label, s in crafts.items() if "/oblivious" in label]
    # "... vs defensegan (BPDA through defensegan ...)": the stack is the word after "vs"
    adaptive = {label.rsplit(" vs ", 1)[1].split(" (")[0]: s for label, s in crafts.items() if "/adaptive" in label}
    assert oblivious < adaptive["none"] < adaptive["aid"] < adaptive["defensegan"]
    assert adaptive["none"] == pytest.approx(2 * oblivious)  # its oblivious start, then the same attack again
    evaluations = {j.label: model.estimate(j) for j in plan.ordered() if j.kind is JobKind.EVALUATE and "| clean |" in j.label}
    by_stack = {label.split(" | ")[0].removeprefix("evaluate "): s for label, s in evaluations.items()}
    assert by_stack["none"] < by_stack["aid"] < by_stack["defensegan"]
    trains = [j for j in build_plan(parse_spec({**spec, "recipes": ["natural", "madry"]}), plan.datasets).ordered()
              if j.kind is JobKind.TRAIN]
    natural, madry = sorted(trains, key=lambda j: "madry" in j.label)
    assert model.estimate(madry) > 5 * model.estimate(natural)  # its PGD-10 inside every batch


def test_recorded_purification_and_gradients_calibrate_the_model(mnist, isolated_cache):
    spec = {"n": 40, "device": "cpu", "recipes": ["madry"], "defenses": ["none", "aid"], "attacks": ["pgd"],
            "threats": ["oblivious", "adaptive"]}
    plan = build_plan(parse_spec(spec), {"mnist5k": mnist})
    cache = ArtifactCache(isolated_cache)
    jobs = plan.ordered()
    adaptive = next(j for j in jobs if "/adaptive" in j.label and j.label.endswith(" vs aid"))
    oblivious = next(j for j in jobs if j.kind is JobKind.CRAFT and "/oblivious" in j.label)
    evaluation = next(j for j in jobs if j.kind is JobKind.EVALUATE and j.label.startswith("evaluate aid | pgd/oblivious"))
    before = cost_model(cache, plan.datasets).estimate(adaptive)
    history = CostHistory(cache.root)
    slow_purifier = EvalResult(np.ones(40, bool), np.ones(40, bool), purify_seconds=40 * 0.5)  # 0.5 s per image
    history.record(evaluation, Outcome(evaluation.key, Status.DONE, 21.0, "", "", "cpu", result=slow_purifier))
    history.record(oblivious, _outcome(oblivious, 40 * 40 * 1e-3, crafted_now=True))  # 1 ms per image and pass
    after = cost_model(cache, plan.datasets).estimate(adaptive)
    passes, through = 40, THROUGH["adaptive"]
    assert after == pytest.approx(40 * (passes * (1e-3 + through * 0.5) + passes * 1e-3))
    assert after > 10 * before


def test_a_zoo_classifier_is_loaded_and_a_fit_scales_with_its_epochs():
    terms = CostTerms({}, {})
    zoo = ClassifierRef("cifar10", "robustbench:Standard", "pretrained", "pretrained", {}, 0, "zoo-Standard")
    assert terms.seconds(Job("t", JobKind.TRAIN, "train zoo", (), TrainTask(zoo))) == LOAD_SECONDS  # no recipe to read
    mnist_ref = ClassifierRef("mnist5k", "smallcnn", "madry", "madry", {}, 0, "c")

    def fit(epochs: int) -> float:
        stage = StageRef("aid", "aid", {"epochs": epochs}, "s", True, "f")
        return terms.seconds(Job("f", JobKind.FIT, "fit aid", (), FitTask(mnist_ref, stage, 0)))

    assert fit(1) == pytest.approx(fit(4) / 4)
