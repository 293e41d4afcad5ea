"""benchmarks/cost_growth.py's arithmetic: unit costs from a hand-made results database, the work model on hand-made jobs."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import cost_growth  # noqa: E402
from cost_growth import (  # noqa: E402
    Basis,
    CostDataError,
    job_work,
    purify_work,
    total_work,
    unit_costs,
)

AID = {"steps": 10, "epochs": 2, "train_steps": 5, "taps": ["layer1", "layer3"], "width": 64, "branch_depth": 2,
       "head_depth": 2}
CLASSIFIER = "mnist5k/smallcnn/madry/seed0"
NATURAL = "mnist5k/smallcnn/natural/seed0"


def _database(path: Path, *, adaptive: bool = True) -> Path:
    """The columns cost_growth reads, as the store writes them: one madry classifier, none and aid, PGD sets."""
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE run (name TEXT, spec_json TEXT);
        CREATE TABLE jobs (key TEXT PRIMARY KEY, kind TEXT, label TEXT, status TEXT, details_json TEXT);
        CREATE TABLE results (job_key TEXT, dataset TEXT, arch TEXT, recipe TEXT, seed INTEGER, defense TEXT,
                              attack TEXT, attack_base TEXT, threat_model TEXT, lam REAL, n INTEGER, advset_key TEXT);
    """)
    recipes = {"madry": {"params": {"epochs": 2, "attack_steps": 3}}}
    con.execute("INSERT INTO run VALUES ('hand-made', ?)", (json.dumps({"recipes": recipes}),))

    def job(key: str, label: str, details: dict) -> None:
        con.execute("INSERT INTO jobs VALUES (?, ?, ?, 'done', ?)", (key, key.split("-")[0], label, json.dumps(details)))

    def evaluation(key: str, defense: str, attack: str, threat: str, advset: str | None, details: dict) -> None:
        job(key, f"evaluate {key}", details)
        con.execute("INSERT INTO results VALUES (?, 'mnist5k', 'smallcnn', 'madry', 0, ?, ?, ?, ?, NULL, 10, ?)",
                    (key, defense, attack, attack if attack != "clean" else "clean", threat, advset))

    pgd = {"steps": 4, "restarts": 1}
    job("train-c", f"train {CLASSIFIER}", {"cpu_seconds": 40.0})
    job("fit-aid", f"fit aid on {CLASSIFIER}", {"cpu_seconds": 6.0})
    evaluation("evaluate-clean", "aid", "clean", "oblivious", None,
               {"stage_settings": {"aid": AID}, "purification_timing": {"cpu_seconds_per_image": 0.5}})
    job("craft-obl", "craft pgd/oblivious", {"cpu_seconds": 8.0})
    evaluation("evaluate-obl-none", "none", "pgd", "oblivious", "obl", {"attack_settings": pgd})
    evaluation("evaluate-obl-aid", "aid", "pgd", "oblivious", "obl", {"attack_settings": pgd})
    if adaptive:
        job("craft-ada", "craft pgd/adaptive vs aid", {"cpu_seconds": 80.0})
        evaluation("evaluate-ada", "aid", "pgd", "adaptive", "ada", {"attack_settings": {"steps": 4, "restarts": 2}})
    con.commit()
    con.close()
    return path


def test_unit_costs_divide_recorded_cpu_seconds_by_the_resolved_work(tmp_path):
    u = unit_costs(_database(tmp_path / "run.sqlite"), tmp_path)
    assert (u.run, u.dataset, u.arch, u.image_shape, u.train_images) == ("hand-made", "mnist5k", "smallcnn", (1, 28, 28), 4000)
    assert u.pgd_step == pytest.approx(8.0 / (10 * 4))  # its evaluation under none; under aid it is the same set
    assert u.adaptive_aid_step == pytest.approx(80.0 / (10 * 4 * 2))
    assert u.aid_purify_step == pytest.approx(0.5 / 10)
    assert (u.madry_epoch, u.madry_inner_steps) == (pytest.approx(20.0), 3)  # the spec's recipe params override the preset
    assert u.madry_image_epoch == pytest.approx(20.0 / 4000)
    assert (u.aid_fit_epoch, u.aid_train_steps) == (pytest.approx(3.0), 5)
    assert u.auxaware_step is None


def test_a_run_without_the_adaptive_set_is_refused_with_what_it_needs(tmp_path):
    with pytest.raises(CostDataError, match="adaptive PGD through aid.*configs/cifar10-jpeg.toml"):
        unit_costs(_database(tmp_path / "run.sqlite", adaptive=False), tmp_path)
    with pytest.raises(CostDataError, match="no such results database"):
        unit_costs(tmp_path / "missing.sqlite", tmp_path)


BASIS = Basis(train_images=100, update_passes=1.5, forward_passes=0.5, aid_step_passes=2.0, aid_purify_step_passes=3.0, auxaware_passes=0.5,
              purifier_flops={"dir": {"denoiser": 1000.0}}, colours=3)
TRAIN = {"kind": "train", "classifier": {"recipe_base": "madry",
                                         "recipe_config": {"config": {"epochs": 2, "attack_steps": 3}}}}
DIR = {"base": "dir", "params": {}}
AID_STAGE = {"base": "aid", "params": {"steps": 10}}
ADAPTIVE = {"kind": "craft", "n": 10, "lam": None, "eot": 8, "threat": {"model": "adaptive"}, "stack": [DIR, AID_STAGE],
            "attack": {"base": "pgd", "params": {"steps": 5, "restarts": 1}}}


def test_the_work_model_on_two_hand_made_jobs():
    kind, work = job_work(TRAIN, BASIS)
    assert kind == "train madry"
    assert work.passes == pytest.approx(2 * 100 * (3 + 1.5)) and work.flops == 0
    kind, work = job_work(ADAPTIVE, BASIS)
    assert kind == "craft pgd/adaptive"
    # the oblivious start (1 pass a step), then 8 EOT samples of the classifier pass plus 10 AID steps at 2 passes each
    assert work.passes == pytest.approx(10 * 5 * (1 + 8 * (1 + 10 * 2.0)))
    assert work.flops == pytest.approx(10 * 5 * 8 * 2 * 1000.0)  # DIR restores two masked copies per BPDA forward
    totals = total_work([TRAIN, ADAPTIVE, ADAPTIVE], BASIS)
    assert totals["craft pgd/adaptive"][0] == 2
    assert totals["craft pgd/adaptive"][1].passes == pytest.approx(2 * work.passes)


def test_evaluations_use_the_purification_passes_and_count_draws():
    job = {"kind": "evaluate", "labels": {"n": 10}, "draws": 5, "stack": [DIR, AID_STAGE]}
    kind, work = job_work(job, BASIS)
    assert kind == "evaluate"
    assert work.passes == pytest.approx(10 * 5 * (0.5 + 10 * 3.0))
    assert work.flops == pytest.approx(10 * 5 * 2 * 1000.0)


def test_a_purifier_without_a_cost_basis_is_named():
    with pytest.raises(CostDataError, match="no cost basis for purifier 'jpeg'"):
        purify_work([{"base": "jpeg", "params": {}}], BASIS, gradient=False)


def test_planned_jobs_carry_draws_and_eot_samples_and_the_model_covers_them(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text('name = "tiny"\nn = 10\ndatasets = ["mnist5k"]\narchs = ["smallcnn"]\nrecipes = ["natural"]\n'
                    'defenses = ["none", "dir", "aid"]\nattacks = ["pgd"]\nthreats = ["adaptive"]\n')
    jobs = cost_growth.planned_jobs(spec)
    by_label = {j["label"]: j for j in jobs}
    assert by_label[f"craft pgd/adaptive eps=0.3 on {NATURAL} vs dir"]["eot"] == 8
    assert by_label[f"craft pgd/adaptive eps=0.3 on {NATURAL} vs aid"]["eot"] == 1
    assert by_label[f"evaluate dir | clean | {NATURAL}"]["draws"] == 5
    basis = Basis(**{**BASIS.__dict__, "purifier_flops": cost_growth.purifier_flops(jobs, (1, 28, 28))})
    totals = total_work(jobs, basis)
    assert set(totals) == {"train natural", "fit dir", "fit aid", "evaluate", "craft pgd/adaptive"}
    assert sum(count for count, _ in totals.values()) == len(jobs)
    assert all(work.passes > 0 for _, work in totals.values())
