"""Planning: the four job kinds, keyed by content, with one oblivious adversarial set serving every stack of its classifier."""

from __future__ import annotations

import pytest

from bench.jobs import JobKind
from bench.plan import build_plan
from bench.spec import parse_spec
from defenses.defensegan import DefenseGAN

MATRIX = {
    "n": 20,
    "recipes": ["natural", "madry"],
    "defenses": ["none", "aid", "aid2", "aid+aid2"],
    "defense_params": {"aid2": {"use": "aid", "steps": 2}},
    "matrix": [
        {"attacks": ["pgd", "mim"], "threats": ["oblivious"]},
        {"attacks": ["pgd"], "threats": ["auxaware"], "lam": [0.0, 0.5], "defenses": ["aid", "aid2", "aid+aid2"]},
        {"attacks": ["pgd"], "threats": ["transfer"], "sources": ["same/natural", "lenet/natural"]},
    ],
}


@pytest.fixture(scope="module")
def plan(mnist):
    return build_plan(parse_spec(MATRIX), {"mnist5k": mnist})


def test_job_counts_and_reuse(plan):
    counts, saved = plan.counts(), plan.saved()
    # natural@0, madry@0, and the surrogates natural@1 (S=T) and lenet natural@0 (S!=T), each trained once
    assert counts[JobKind.TRAIN] == 4 and saved[JobKind.TRAIN] == 2  # both targets share each surrogate
    # aid and aid2 differ in purification steps only, so one fitted D per target serves aid, aid2 and aid+aid2
    assert counts[JobKind.FIT] == 2 and saved[JobKind.FIT] == 4
    # oblivious: one set per (classifier, attack) for all 4 stacks; auxaware: one per stack and lambda;
    # transfer: one per (surrogate, attack), shared by both targets and all stacks
    assert counts[JobKind.CRAFT] == 2 * 2 + 2 * 3 * 2 + 2
    assert saved[JobKind.CRAFT] == (2 * 2 * 4 - 4) + (2 * 2 * 4 - 2)
    # per classifier: clean + 2 oblivious + 2 sources on 4 stacks, 2 lambdas on 3
    assert counts[JobKind.EVALUATE] == 2 * (4 * (1 + 2 + 2) + 3 * 2) and saved[JobKind.EVALUATE] == 0


def test_oblivious_set_shared_by_every_stack(plan):
    evals = [j for j in plan.ordered() if j.kind is JobKind.EVALUATE and j.task.labels.threat == "oblivious"
             and j.task.labels.attack == "pgd" and j.task.labels.recipe == "natural"]
    assert {j.task.labels.defense for j in evals} == {"none", "aid", "aid2", "aid+aid2"}
    assert len({j.task.advset.key for j in evals}) == 1
    auxaware = [j for j in plan.ordered() if j.kind is JobKind.EVALUATE and j.task.labels.threat == "auxaware"]
    assert len({j.task.advset.key for j in auxaware}) == len(auxaware)


def test_transfer_surrogates_and_labels(plan):
    evals = [j for j in plan.ordered() if j.kind is JobKind.EVALUATE and j.task.labels.threat == "transfer"]
    kinds = {(j.task.labels.source, j.task.labels.source_kind, j.task.labels.source_classifier) for j in evals}
    assert kinds == {("same/natural", "S=T", "mnist5k/smallcnn/natural/seed1"),
                     ("lenet/natural", "S!=T", "mnist5k/lenet/natural/seed0")}
    crafts = {j.task.advset.key: j.task.advset.target.label() for j in evals}
    assert sorted(crafts.values()) == ["mnist5k/lenet/natural/seed0", "mnist5k/smallcnn/natural/seed1"]


def test_every_stack_gets_a_clean_column(plan):
    clean = {(j.task.labels.recipe, j.task.labels.defense) for j in plan.ordered()
             if j.kind is JobKind.EVALUATE and j.task.advset is None}
    assert clean == {(r, d) for r in ("natural", "madry") for d in MATRIX["defenses"]}


def test_order_is_topological_and_keys_are_stable(plan, mnist):
    seen: set[str] = set()
    for job in plan.ordered():
        assert set(job.deps) <= seen, job.label
        seen.add(job.key)
    assert list(build_plan(parse_spec(MATRIX), {"mnist5k": mnist}).jobs) == list(plan.jobs)


def test_keys_follow_what_determines_the_output(plan, mnist):
    other = build_plan(parse_spec({**MATRIX, "n": 30}), {"mnist5k": mnist})
    by_kind = {kind: {k for k, j in plan.jobs.items() if j.kind is kind} for kind in JobKind}
    other_by_kind = {kind: {k for k, j in other.jobs.items() if j.kind is kind} for kind in JobKind}
    assert by_kind[JobKind.TRAIN] == other_by_kind[JobKind.TRAIN]  # n does not change training or fitting
    assert by_kind[JobKind.FIT] == other_by_kind[JobKind.FIT]
    assert not by_kind[JobKind.CRAFT] & other_by_kind[JobKind.CRAFT]


def test_inference_parameters_share_a_fit_and_training_parameters_do_not(mnist):
    spec = {"n": 20, "defenses": ["aid", "aid_steps", "aid_gamma"], "attacks": ["pgd"],
            "defense_params": {"aid_steps": {"use": "aid", "steps": 2}, "aid_gamma": {"use": "aid", "gamma": 1.0}}}
    plan = build_plan(parse_spec(spec), {"mnist5k": mnist})
    stages = {j.task.labels.defense: j.task.stack[0] for j in plan.ordered() if j.kind is JobKind.EVALUATE}
    assert stages["aid"].fit_key == stages["aid_steps"].fit_key != stages["aid_gamma"].fit_key
    assert len({s.key for s in stages.values()}) == 3  # yet each variant's results are its own
    assert plan.counts()[JobKind.FIT] == 2


def test_attack_presets_fill_iterative_parameters(plan):
    craft = next(j for j in plan.ordered() if j.kind is JobKind.CRAFT and j.task.attack.label == "pgd")
    assert craft.task.attack.params == {"step_size": 0.01, "steps": 40}  # the mnist5k preset
    assert craft.task.eps == 0.3


def test_n_larger_than_the_test_split_is_refused(mnist):
    from bench.spec import SpecError

    with pytest.raises(SpecError, match="only 1000 test examples"):
        build_plan(parse_spec({**MATRIX, "n": 5000}), {"mnist5k": mnist})


def test_a_stage_declaring_its_gradient_impractical_is_named_in_the_adaptive_label_and_key(mnist, monkeypatch):
    """Defense-GAN's latent search is crossed by BPDA under adaptive threats: its crafts say so, and are keyed apart."""
    spec = parse_spec({"n": 20, "recipes": ["madry"], "defenses": ["none", "defensegan", "aid"], "attacks": ["pgd"],
                       "threats": ["adaptive", "unrolled"],
                       "threat_params": {"unrolled": {"use": "adaptive", "gradient": "unrolled"}}})

    def crafts() -> dict:
        return {(j.task.threat.label, j.task.stack[0].label if j.task.stack else None): j
                for j in build_plan(spec, {"mnist5k": mnist}).ordered() if j.kind is JobKind.CRAFT}

    declared = crafts()
    assert "(BPDA through defensegan (exact gradient declared impractical))" in declared[("adaptive", "defensegan")].label
    assert "BPDA" not in declared[("unrolled", "defensegan")].label and "BPDA" not in declared[("adaptive", "aid")].label
    monkeypatch.setattr(DefenseGAN, "gradient_impractical", False)
    undeclared = crafts()
    assert undeclared[("adaptive", "defensegan")].key != declared[("adaptive", "defensegan")].key
    assert all(undeclared[k].key == declared[k].key for k in declared if k != ("adaptive", "defensegan"))
