"""The robustness audit: toy purifiers with known failure modes are each caught by the check made for them,
the undefended classifier and a correctly declared smoothing purifier pass every check, and each check is
shown failing on the case it exists for."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import bench
from attacks.threats.pipeline import DefendedPipeline
from bench.auditing.binarization import binarization_test
from bench.auditing.declared import declared_checks
from bench.auditing.frame import audit_frame, overall
from bench.auditing.parts import Part
from bench.auditing.sanity import (adaptive_vs_oblivious, blackbox_vs_whitebox, eps_monotone, more_effort, transfer_vs_adaptive,
                                unbounded)
from bench.auditing.traces import (INCOMPLETE_FAIL, NONCONVERGENCE_FAIL, SILENT_FAIL, TRANSFER_FAIL, UNAVAILABLE_FAIL,
                                   trace_checks, transfer_failure)
from bench.auditing.verdicts import OVERALL, CheckResult, Verdict, worst_per_check
from bench.cli import main
from bench.jobs import JobKind
from bench.plan import build_plan
from bench.spec import SpecError, load_spec, parse_spec
from defenses import Defense, Stack

N = 16
ATTACK_PARAMS = {"pgd": {"steps": 20, "step_size": 0.015}, "apgd": {"n_iter": 10}}
AUDIT_PARAMS = {"n": N, "unbounded_steps": 10, "square_queries": 50, "binarization_n": 8, "binarization_inner": 16}


def _quantise(x: torch.Tensor) -> torch.Tensor:
    return torch.round(x * 3) / 3


class Quantise(Defense):
    """Rounds pixels to 4 levels and keeps the default differentiable = True: its gradient is zero."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return _quantise(x)


class Noise(Defense):
    """Adds Gaussian noise and keeps the default randomized = False."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 0.3 * torch.randn_like(x)).clamp(0, 1)


class Shattered(Defense):
    """Quantises, with a gradient of high-frequency wiggles that says nothing about the quantiser."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        wiggle = 0.05 * torch.sin(1000 * x)
        return _quantise(x).detach() + wiggle - wiggle.detach()


class BatchMix(Defense):
    """Mixes each image with the batch mean: an example's output depends on its batch-mates."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return (0.5 * x + 0.5 * x.mean(0, keepdim=True)).clamp(0, 1)


class Blur(Defense):
    """A 3x3 mean filter, correctly declared differentiable."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class CostlyBlur(Blur):
    """The blur, declaring its exact gradient impractical: adaptive attacks cross it by BPDA."""

    gradient_impractical = True


TOYS = {"none": "none", "Blur": Blur(), "Quantise": Quantise(), "Noise": Noise(), "Shattered": Shattered(),
        "BatchMix": BatchMix(), "CostlyBlur": CostlyBlur()}
#: The check each toy exists for.
CAUGHT_BY = {"Quantise": "gradients", "Noise": "randomness", "Shattered": "gradient_direction", "BatchMix": "batch_independence"}


@pytest.fixture(scope="module")
def audited(natural_cnn, tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "toys.sqlite"
    frame = bench.audit(natural_cnn, defenses=list(TOYS.values()), attacks=["pgd"], n=N, eps=0.15, progress=False,
                        attack_params=ATTACK_PARAMS, audit_params=AUDIT_PARAMS, results=path, threads=1)
    return frame, path


def _verdicts(frame, defense: str) -> dict[str, str]:
    rows = frame[frame["defense"] == defense]
    return dict(zip(rows["check"], rows["verdict"]))


@pytest.mark.parametrize("defense", ["none", "Blur"])
def test_sound_stacks_pass_every_check(audited, defense):
    verdicts = _verdicts(audited[0], defense)
    assert verdicts[OVERALL] == "pass"
    assert set(verdicts.values()) <= {"pass", "skipped"}
    assert sum(v == "pass" for v in verdicts.values()) >= 12  # most checks ran, not skipped
    evidence = audited[0].set_index(["defense", "check"]).loc[(defense, OVERALL), "evidence"]
    assert evidence.startswith("robust accuracy at most") and "evaluation reliable" in evidence


@pytest.mark.parametrize("defense", sorted(CAUGHT_BY))
def test_each_toy_is_caught_by_its_check(audited, defense):
    verdicts = _verdicts(audited[0], defense)
    assert verdicts[CAUGHT_BY[defense]] == "fail"
    assert verdicts[OVERALL] == "fail"
    evidence = audited[0].set_index(["defense", "check"]).loc[(defense, OVERALL), "evidence"]
    assert evidence.startswith("unreliable: ") and CAUGHT_BY[defense] in evidence and "remedy: " in evidence


def test_the_frame_has_one_row_per_check_and_an_overall_row_per_stack(audited):
    frame, _ = audited
    assert list(frame.columns[:9]) == ["dataset", "arch", "recipe", "defense", "check", "verdict", "value", "threshold",
                                       "evidence"]
    assert (frame.groupby("defense")["check"].apply(lambda c: c.iloc[-1]) == OVERALL).all()
    assert frame.groupby(["defense", "check"]).size().max() == 1
    assert set(frame["verdict"]) <= {v.value for v in Verdict}
    assert frame["evidence"].str.len().min() > 20


def test_the_adaptive_checks_read_both_pgd_and_apgd(audited):
    evidence = audited[0].set_index(["defense", "check"])["evidence"]
    for check in ("silent_success", "transfer_failure", "incomplete_optimisation"):
        assert "adaptive PGD" in evidence[("Quantise", check)] and "adaptive APGD" in evidence[("Quantise", check)]
    assert "adaptive PGD and adaptive APGD against oblivious PGD" in evidence[("none", "adaptive_vs_oblivious")]


def test_the_evidence_says_where_the_adaptive_attacks_used_bpda_for_a_declared_impractical_gradient(audited):
    evidence = audited[0].set_index(["defense", "check"])["evidence"]
    for check in ("transfer_failure", "adaptive_vs_oblivious", "silent_success"):
        assert "BPDA through CostlyBlur" in evidence[("CostlyBlur", check)]
        assert "BPDA" not in evidence[("Blur", check)]


def test_a_second_call_runs_nothing(audited, natural_cnn):
    frame, path = audited
    again = bench.audit(natural_cnn, defenses=list(TOYS.values()), attacks=["pgd"], n=N, eps=0.15, progress=False,
                        attack_params=ATTACK_PARAMS, audit_params=AUDIT_PARAMS, results=path, threads=1)
    with sqlite3.connect(path) as conn:
        sessions = {s for (s,) in conn.execute("SELECT DISTINCT session_id FROM jobs")}
        audit_jobs = conn.execute("SELECT COUNT(*) FROM jobs WHERE kind = 'audit'").fetchone()[0]
    assert len(sessions) == 1 and audit_jobs == 4 * len(TOYS)
    assert again.equals(frame)


@pytest.mark.parametrize("fmt,marker", [("csv", "check,verdict"), ("json", '"verdict"'), ("markdown", "| check |"),
                                        ("latex", "\\begin{tabular}")])
def test_export_what_audit(audited, capsys, fmt, marker):
    assert main(["export", str(audited[1]), "--format", fmt, "--what", "audit"]) == 0
    out = capsys.readouterr().out
    check = "batch\\_independence" if fmt == "latex" else "batch_independence"  # LaTeX escapes the underscore
    assert marker in out and "overall" in out and check in out


# -- each check failing on its own case, from recorded numbers ------------------------------------------------


def _flags(correct: int, n: int = 100) -> np.ndarray:
    return np.arange(n) < correct


@pytest.mark.parametrize("check,bad,good", [
    (lambda f: unbounded(f, 0.1, 1.0), _flags(40), _flags(5)),
    (lambda f: eps_monotone([(0.1, _flags(30)), (0.3, f)]), _flags(50), _flags(20)),
    (lambda f: more_effort(_flags(50), f, 80, 2), _flags(30), _flags(48)),
    (lambda f: blackbox_vs_whitebox(_flags(30), f), _flags(50), _flags(30)),
    (lambda f: adaptive_vs_oblivious(f, _flags(30)), _flags(50), _flags(30)),
    (lambda f: transfer_vs_adaptive(_flags(30), f, "same/natural"), _flags(50), _flags(28)),
])
def test_sanity_checks_fail_beyond_the_interval_and_pass_within(check, bad, good):
    failed, passed = check(bad), check(good)
    assert failed.verdict is Verdict.FAIL and passed.verdict is Verdict.PASS
    assert "; " in failed.evidence  # the remedy follows the measurement


def test_more_effort_says_by_how_much_the_default_attack_is_under_optimised():
    result = more_effort(_flags(50), _flags(30), 80, 2)
    assert result.value == pytest.approx(20.0) and "under-optimised by 20.0 points" in result.evidence


def _trace(loss: torch.Tensor, margin: torch.Tensor | None = None, unavailable: torch.Tensor | None = None):
    steps, n = loss.shape
    return {"trace_loss": loss, "trace_margin": margin if margin is not None else -torch.ones(steps, n),
            "trace_grad_unavailable": unavailable if unavailable is not None else torch.zeros(steps, n, dtype=torch.uint8)}


def _by_check(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.check: r for r in results}


def test_trace_indicators_fail_on_their_cases():
    t = torch.arange(40.0)[:, None].expand(40, 10)
    correct, no_success = torch.ones(10, dtype=torch.bool), torch.zeros(10, dtype=torch.bool)
    converged = _by_check(trace_checks(_trace(1 - torch.exp(-t / 3)), no_success, correct))
    assert {c: r.verdict for c, r in converged.items()} == {c: Verdict.PASS for c in converged}
    rising = _by_check(trace_checks(_trace(t.clone()), no_success, correct))
    assert rising["incomplete_optimisation"].verdict is Verdict.FAIL
    wander = torch.where(t < 20, t, 40 - t)  # rises, then falls back to where it started
    assert _by_check(trace_checks(_trace(wander), no_success, correct))["non_convergence"].verdict is Verdict.FAIL
    kept = _by_check(trace_checks(_trace(wander), no_success, correct, keeps_best=True))["non_convergence"]
    assert kept.verdict is Verdict.WARN and "best iterate" in kept.evidence  # the returned point is the best one
    seen_wrong = _by_check(trace_checks(_trace(1 - torch.exp(-t / 3), margin=torch.ones(40, 10)), no_success, correct))
    assert seen_wrong["silent_success"].verdict is Verdict.FAIL
    dead = _by_check(trace_checks(_trace(torch.zeros(40, 10), unavailable=torch.ones(40, 10, dtype=torch.uint8)),
                                  no_success, correct))
    assert dead["unavailable_gradients"].verdict is Verdict.FAIL
    assert transfer_failure(torch.zeros(10, dtype=torch.bool), correct).verdict is Verdict.FAIL
    assert transfer_failure(correct, correct).verdict is Verdict.PASS
    assert transfer_failure(None, correct).verdict is Verdict.SKIPPED


def _indicators(kind: str, k: int, n: int = 20) -> dict[str, CheckResult]:
    """The trace indicators when ``k`` of ``n`` unbroken examples show the failure ``kind``, the others a converged run."""
    t = torch.arange(40.0)[:, None].expand(40, n)
    loss, margin = (1 - torch.exp(-t / 3)).clone(), -torch.ones(40, n)
    unavailable = torch.zeros(40, n, dtype=torch.uint8)
    if kind == "incomplete_optimisation":
        loss[:, :k] = t[:, :k]
    elif kind == "non_convergence":
        loss[:, :k] = torch.where(t[:, :k] < 20, t[:, :k], 40 - t[:, :k])
    elif kind == "silent_success":
        margin[5, :k] = 1.0
    elif kind == "unavailable_gradients":
        unavailable[0, :k] = 1
    correct = torch.ones(n, dtype=torch.bool)
    results = _by_check(trace_checks(_trace(loss, margin, unavailable), torch.zeros(n, dtype=torch.bool), correct))
    surrogate = torch.ones(n, dtype=torch.bool)
    surrogate[:k] = False
    results["transfer_failure"] = transfer_failure(surrogate, correct)
    return results


@pytest.mark.parametrize("check,threshold", [("silent_success", SILENT_FAIL), ("incomplete_optimisation", INCOMPLETE_FAIL),
                                             ("non_convergence", NONCONVERGENCE_FAIL),
                                             ("unavailable_gradients", UNAVAILABLE_FAIL), ("transfer_failure", TRANSFER_FAIL)])
def test_each_indicator_fails_just_above_its_threshold_and_not_at_it(check, threshold):
    at = round(threshold * 20)  # the largest share of 20 examples not above the threshold
    below, above = _indicators(check, at)[check], _indicators(check, at + 1)[check]
    assert below.value == pytest.approx(at / 20) and below.verdict is not Verdict.FAIL
    assert above.value == pytest.approx((at + 1) / 20) and above.verdict is Verdict.FAIL
    assert above.threshold == threshold and _indicators(check, 0)[check].verdict is Verdict.PASS


def test_the_logits_check_fails_a_classifier_returning_probabilities(natural_cnn, mnist):
    x, y = mnist.test.x[:8], mnist.test.y[:8]
    stack = Stack([("none", Blur())])

    def logits_verdict(classifier: torch.nn.Module) -> Verdict:
        checks = declared_checks(classifier, stack, DefendedPipeline(classifier, stack), x, y, torch.Generator().manual_seed(0))
        return _by_check(checks)["logits"].verdict

    assert logits_verdict(torch.nn.Sequential(natural_cnn, torch.nn.Softmax(dim=1))) is Verdict.FAIL
    assert logits_verdict(natural_cnn) is Verdict.PASS


class DeclaredBatchMix(BatchMix):
    """The same batch mixing, declared: not a false claim, but its accuracies hold for its batches only."""

    batch_dependent = True


def test_batch_dependence_fails_when_undeclared_and_warns_when_declared(natural_cnn, mnist):
    x, y = mnist.test.x[:8], mnist.test.y[:8]

    def batch_check(defense: Defense) -> CheckResult:
        stack = Stack([(type(defense).__name__, defense)])
        checks = declared_checks(natural_cnn, stack, DefendedPipeline(natural_cnn, stack), x, y, torch.Generator().manual_seed(0))
        return _by_check(checks)["batch_independence"]

    assert batch_check(BatchMix()).verdict is Verdict.FAIL
    declared = batch_check(DeclaredBatchMix())
    assert declared.verdict is Verdict.WARN and "declares (batch_dependent)" in declared.evidence
    assert batch_check(Blur()).verdict is Verdict.PASS


def test_without_a_trace_silent_success_is_read_from_the_success_flags_and_the_rest_skipped():
    correct = torch.ones(4, dtype=torch.bool)
    results = _by_check(trace_checks({}, torch.zeros(4, dtype=torch.bool), correct))
    assert results.pop("silent_success").verdict is Verdict.PASS
    assert all(r.verdict is Verdict.SKIPPED and "trace" in r.evidence for r in results.values())
    claimed = _by_check(trace_checks({}, torch.tensor([True, False, False, False]), correct))["silent_success"]
    assert claimed.verdict is Verdict.FAIL and claimed.value == pytest.approx(0.25)


def test_binarization_fails_an_attack_that_does_nothing_and_passes_pgd(natural_cnn, mnist):
    from attacks import ATTACKS
    from attacks.threats import craft

    x = mnist.test.x[:8]
    stack = Stack([("none", Blur())])
    generator = torch.Generator().manual_seed(0)

    def idle(binarized, xs, ys):
        return xs

    def pgd(binarized, xs, ys):
        return craft("adaptive", ATTACKS.create("pgd", steps=20, step_size=0.015), binarized, stack, xs, ys, 0.15).x_adv

    assert binarization_test(natural_cnn, stack, x, 0.15, 16, idle, generator).verdict is Verdict.FAIL
    assert binarization_test(natural_cnn, stack, x, 0.15, 16, pgd, torch.Generator().manual_seed(0)).verdict is Verdict.PASS


def test_each_check_takes_the_worse_attack_and_names_the_other():
    pgd = [CheckResult("silent_success", Verdict.PASS, 0.0, 0.05, "the attack saw 0%"),
           CheckResult("transfer_failure", Verdict.SKIPPED, float("nan"), float("nan"), "no surrogate")]
    apgd = [CheckResult("silent_success", Verdict.FAIL, 0.25, 0.05, "the attack saw 25%; declare randomized = True"),
            CheckResult("transfer_failure", Verdict.SKIPPED, float("nan"), float("nan"), "no surrogate")]
    silent, transfer = worst_per_check([("adaptive PGD", pgd), ("adaptive APGD", apgd)])
    assert silent.verdict is Verdict.FAIL and silent.value == 0.25
    assert silent.evidence == "adaptive APGD: the attack saw 25% (adaptive PGD: pass at 0); declare randomized = True"
    assert transfer.verdict is Verdict.SKIPPED and transfer.evidence.startswith("adaptive PGD: no surrogate")
    assert worst_per_check([("adaptive PGD", pgd)])[0].evidence == "adaptive PGD: the attack saw 0%"


def test_overall_names_the_failed_checks_and_their_remedies():
    checks = [CheckResult("gradients", Verdict.FAIL, 1.0, 0.1, "zero gradients; declare differentiable = False"),
              CheckResult("randomness", Verdict.PASS, 0.0, 1e-5, "agree")]
    result = overall(checks, [_flags(40), _flags(30)], [])
    assert result.verdict is Verdict.FAIL
    assert result.evidence.startswith("unreliable: gradients") and "remedy: gradients: declare differentiable = False" in result.evidence
    reliable = overall(checks[1:], [_flags(40), _flags(30)], [])
    assert reliable.verdict is Verdict.PASS and reliable.value == pytest.approx(0.3)
    assert "at most 30.0%" in reliable.evidence and "n = 100" in reliable.evidence
    assert overall(checks[1:], [], ["sanity"]).verdict is Verdict.SKIPPED


# -- the spec, the plan and the CLI ----------------------------------------------------------------------------


def test_audit_keys_are_checked():
    with pytest.raises(SpecError, match="audit in the spec must be true or false"):
        parse_spec({"audit": "yes"})
    with pytest.raises(SpecError, match="unknown key"):
        parse_spec({"audit": True, "audit_params": {"steps": 3}})
    with pytest.raises(SpecError, match="audit_params.n must be an integer >= 1"):
        parse_spec({"audit": True, "audit_params": {"n": 0}})
    with pytest.raises(SpecError, match="audit_params.apgd must be true or false"):
        parse_spec({"audit": True, "audit_params": {"apgd": "no"}})
    with pytest.raises(SpecError, match="unknown key 'audti'"):
        parse_spec({"matrix": [{"audti": True}]})


def test_a_spec_without_audit_keeps_its_digest():
    spec = parse_spec({"defenses": ["none"]})
    assert "audit_params" not in spec.identity() and "audit" not in spec.identity()["blocks"][0]
    assert parse_spec({"defenses": ["none"], "audit": False}).digest() == spec.digest()
    assert parse_spec({"defenses": ["none"], "audit": True}).digest() != spec.digest()


def test_the_audit_is_planned_as_jobs_sharing_the_matrix_crafts(natural_cnn, tmp_path):
    doc = {"archs": ["smallcnn"], "defenses": ["none", "aid"], "threats": ["oblivious", "adaptive"], "n": 20, "audit": True,
           "audit_params": {"n": 20}}
    plan = build_plan(parse_spec(doc))
    audits = [j for j in plan.ordered() if j.kind.value == "audit"]
    assert len(audits) == 4 * 2 and {j.task.part for j in audits} == {p.value for p in Part}
    crafts = {j.key for j in plan.ordered() if j.kind.value == "craft"}
    for job in audits:
        assert {t.key for _, t in job.task.crafts} <= {k.removeprefix("craft-") for k in crafts}
    assert plan.saved()[next(k for k in plan.counts() if k.value == "craft")] > 0  # the oblivious and adaptive sets


def test_the_audit_s_apgd_is_the_matrix_s_adaptive_apgd_and_can_be_switched_off():
    doc = {"archs": ["smallcnn"], "defenses": ["none", "aid"], "attacks": ["pgd", "apgd"], "threats": ["adaptive"], "n": 20,
           "attack_params": {"apgd": {"n_iter": 10}}, "audit": True, "audit_params": {"n": 20}}
    plan = build_plan(parse_spec(doc))
    matrix = {j.task.advset.key for j in plan.ordered() if j.kind.value == "evaluate" and j.task.advset is not None
              and j.task.labels.attack == "apgd"}
    sanity = [j for j in plan.ordered() if j.kind.value == "audit" and j.task.part == "sanity"]
    assert len(matrix) == 2 and {dict(j.task.crafts)["adaptive_apgd"].key for j in sanity} == matrix  # no second craft
    traces = [j for j in plan.ordered() if j.kind.value == "audit" and j.task.part == "traces"]
    assert all(dict(j.task.crafts).keys() == {"adaptive", "adaptive_apgd"} for j in traces)
    off = build_plan(parse_spec({**doc, "audit_params": {"n": 20, "apgd": False}}))
    audits = [j for j in off.ordered() if j.kind.value == "audit"]
    assert all("adaptive_apgd" not in dict(j.task.crafts) for j in audits)
    assert off.counts()[JobKind.CRAFT] == plan.counts()[JobKind.CRAFT]  # the matrix still crafts its own APGD sets


@pytest.mark.parametrize("audit_first", [False, True])
def test_a_smaller_audit_reads_the_first_examples_of_the_matrix_s_own_sets(audit_first):
    audited = {"defenses": ["none", "aid"], "attacks": ["square"], "threats": ["blackbox"], "audit": True}
    adaptive = {"defenses": ["none", "aid"], "attacks": ["pgd", "apgd"], "threats": ["oblivious", "adaptive"]}
    doc = {"archs": ["smallcnn"], "recipes": ["natural"], "n": 20, "attack_params": {"apgd": {"n_iter": 10}},
           "audit_params": {"n": 8}, "matrix": [audited, adaptive] if audit_first else [adaptive, audited]}
    plan = build_plan(parse_spec(doc))
    matrix = {j.task.advset.key: j.task.advset for j in plan.ordered() if j.kind.value == "evaluate" and j.task.advset is not None}
    sanity = [j for j in plan.ordered() if j.kind.value == "audit" and j.task.part == "sanity"]
    assert len(sanity) == 2
    for job in sanity:
        crafts = dict(job.task.crafts)
        assert job.task.labels.n == 8
        assert all(crafts[role].key in matrix and crafts[role].n == 20 for role in ("oblivious", "adaptive", "adaptive_apgd"))
        assert all(crafts[role].key not in matrix and crafts[role].n == 8 for role in ("half_eps", "unbounded", "effort", "square"))
    alone = build_plan(parse_spec({**doc, "matrix": [audited]}))  # no matrix set to read: the audit crafts its own, on 8
    own = dict(next(j for j in alone.ordered() if j.kind.value == "audit" and j.task.part == "sanity").task.crafts)
    assert all(task.n == 8 for task in own.values())


def test_an_adversarial_set_s_head_is_its_first_examples_with_their_steps():
    from bench.run_context import AdvSet

    trace = {"trace_loss": torch.arange(12.0).view(3, 4), "trace_margin": -torch.arange(12.0).view(3, 4),
             "trace_grad_unavailable": torch.zeros(3, 4, dtype=torch.uint8)}
    advset = AdvSet(torch.rand(4, 1, 2, 2), torch.tensor([True, False, True, False]), {"eps": 0.3}, False, trace)
    head = advset.head(2)
    assert torch.equal(head.x_adv, advset.x_adv[:2]) and torch.equal(head.success, torch.tensor([True, False]))
    assert all(torch.equal(head.trace[name], trace[name][:, :2]) for name in trace) and head.metadata == {"eps": 0.3}


def test_cli_audit_end_to_end(natural_cnn, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / "mine.pt"
    torch.save(natural_cnn.state_dict(), checkpoint)
    db = tmp_path / "cli.sqlite"
    argv = ["audit", "--arch", "smallcnn", "--checkpoint", str(checkpoint), "--defense", "none", "--n", "8", "--eps", "0.15",
            "--device", "cpu", "--results", str(db), "--set", "attack_params.pgd.steps=5", "--set", "audit_params.n=8",
            "--set", "audit_params.unbounded_steps=5", "--set", "audit_params.square_queries=20",
            "--set", "audit_params.binarization_n=4", "--set", "audit_params.binarization_inner=8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "audit:" in out and "=> " in out and "robust accuracy at most" in out
    assert set(audit_frame(db)["defense"]) == {"none"}


def test_the_report_opens_with_the_worst_case_and_the_badge(audited, tmp_path):
    from bench.report import render_report

    index = render_report(audited[1], tmp_path / "report")
    page = index.read_text()
    assert page.index("Worst case and audit verdict") < page.index("Audit checks")
    headline = (tmp_path / "report" / "mnist5k-headline.csv").read_text()
    assert "Oblivious (paper protocol)" in headline and "unreliable" in headline and "reliable" in headline
    frame = pd.read_csv(tmp_path / "report" / "mnist5k-headline.csv")
    # One set of examples for both columns: the worst over everything that ran includes the oblivious attacks.
    assert (frame["Worst case"] <= frame["Oblivious (paper protocol)"]).all() and frame["n"].notna().all()
    assert frame["Audit's worst case"].notna().all()
    assert 'class="audit-fail' in page and "binarization" in page
