"""Reports from hand-made results databases (written through the store's own API, no training):
the two worst cases, gains, partial runs, the files beside index.html, and names kept as text."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from bench.errors import UserError
from bench.job_progress import JobProgress
from bench.jobs import (AttackRef, ClassifierRef, CraftTask, EvalResult, EvaluateTask, FitTask, Job, JobKind, Outcome,
                        ResultLabels, StageRef, Status, ThreatRef, TrainTask)
from bench.report import render_report
from bench.report.layout import best_marks
from bench.report.load import load_report_data
from bench.report.adaptive import table_adaptive
from bench.report.comparisons import comparisons_table
from bench.report.headline import headline_table
from bench.report.matrix import GAIN_PERCENT, GAIN_POINTS, WORST, WORST_CI, WORST_PAPER, table1, table3
from bench.report.model import BEST, MISSING, PARTIAL
from bench.report.settings import attack_settings, defense_settings, preset_origin
from bench.report.sweeps import attack_eps_sweeps, attack_variant_sweeps, defense_sweeps, lambda_sweep
from bench.report.timing import EVALUATION, EVALUATION_BATCH, SINGLE, SINGLE_CPU, SINGLE_SD, STAGES, TRAINING, table2
from bench.store import Store

DATASET, ARCH = "mnist5k", "smallcnn"
T, F = True, False


@dataclass
class Cell:
    """One evaluate job of a synthetic run: its labels, per-example flags and status."""

    recipe: str
    defense: str
    attack: str
    correct: list[bool]
    threat: str = "oblivious"
    eps: float = 0.3
    lam: float | None = None
    source: str | None = None
    undefended: list[bool] | None = None
    status: Status | None = Status.DONE  # None: planned, never run (pending)
    error: str | None = None
    attack_base: str | None = None
    threat_model: str | None = None
    arch: str = ARCH
    seed: int = 0
    max_perturbation: float | None = None  # None: eps (the attack used all of its budget)


@dataclass
class SyntheticRun:
    cells: list[Cell]
    name: str = "synthetic"
    spec: dict = field(default_factory=dict)
    fit_seconds: float = 12.5
    recipe_bases: dict = field(default_factory=lambda: {"natural": "natural", "madry": "madry"})
    timed: bool = True  # clean evaluations carry the runner's purification timing (False: a database from before it)


def purification_timing(defense: str) -> dict:
    """The timing a clean evaluation records: for a purifier, 4 ms per image at batch 1 and 2,000 images/s at 256 by
    the wall clock, 3 ms and 2,500 images/s by CPU time."""
    purifies = defense != "none"
    return {"seconds_per_image": 0.004 if purifies else 1e-6, "images_per_second": 2000.0 if purifies else 1e6,
            "cpu_seconds_per_image": 0.003 if purifies else 1e-6, "images_per_cpu_second": 2500.0 if purifies else 1e6,
            "single_images": 8, "batch_size": 256, "device": "cpu", "seconds_per_image_sd": 0.0005 if purifies else 1e-7}


def _classifier(recipe: str, base: str, arch: str = ARCH, seed: int = 0) -> ClassifierRef:
    return ClassifierRef(DATASET, arch, recipe, base, {}, seed, f"c-{arch}-{recipe}-{seed}")


def _stack(ref: ClassifierRef, defense: str, spec: dict) -> tuple[StageRef, ...]:
    stages = []
    for label in defense.split("+"):
        entry = spec.get("defenses", {}).get(label, {"base": label, "params": {}})
        key = f"s-{ref.key}-{label}"
        stages.append(StageRef(label, entry["base"], entry["params"], key, entry["base"] != "none", key))
    return tuple(stages)


def _what(cell: Cell) -> str:
    """The planner's label of what an evaluate job measures."""
    if cell.attack == "clean":
        return "clean"
    text = f"{cell.attack}/{cell.threat} eps={cell.eps:g}"
    text += f" lam={cell.lam:g}" if cell.lam is not None else ""
    return text + (f" from {cell.source}" if cell.source else "")


def write_run(path: Path, run: SyntheticRun) -> Path:
    """A results database holding ``run``, written as the runner writes one."""
    store = Store(path)
    store.register_run(name=run.name, spec_digest="digest", spec_json=json.dumps(run.spec), spec_text='name = "synthetic"\n',
                       seed=0, n=len(run.cells[0].correct), device="cpu")
    store.start_session(executor="local", device="cpu", argv=["run", "synthetic.toml"], versions={"torch": "2.x", "python": "3.11"},
                        code_revision="abc123-dirty")
    plan: list[tuple[Job, Outcome | None]] = []
    seen: set[str] = set()
    for i, cell in enumerate(run.cells):
        ref = _classifier(cell.recipe, run.recipe_bases.get(cell.recipe, cell.recipe), cell.arch, cell.seed)
        stack = _stack(ref, cell.defense, run.spec)
        train = Job(f"train-{ref.key}", JobKind.TRAIN, f"train {ref.label()}", (), TrainTask(ref))
        if train.key not in seen:
            plan.append((train, _outcome(train.key, Status.DONE, details={"clean_accuracy": 0.9, "train_seconds": 3.0})))
        for stage in stack:
            fit = Job(f"fit-{stage.key}", JobKind.FIT, f"fit {stage.label} on {ref.label()}", (train.key,), FitTask(ref, stage, 0))
            if stage.needs_fit and fit.key not in seen:
                plan.append((fit, _outcome(fit.key, Status.DONE, details={"fit_seconds": run.fit_seconds})))
                seen.add(fit.key)
        seen.add(train.key)
        n = len(cell.correct)
        threat_model = cell.threat_model or cell.threat
        labels = ResultLabels(dataset=DATASET, arch=cell.arch, recipe=cell.recipe, seed=cell.seed, defense=cell.defense,
                              attack=cell.attack,
                              attack_base=cell.attack_base or cell.attack, threat=cell.threat, threat_model=threat_model,
                              eps=0.0 if cell.attack == "clean" else cell.eps, lam=cell.lam, source=cell.source,
                              source_kind=None if cell.source is None else ("S=T" if cell.source.startswith("same") else "S!=T"),
                              source_classifier=None, n=n)
        params = {"steps": 40, **run.spec.get("attacks", {}).get(cell.attack, {}).get("params", {})}  # the preset filled in
        advset = None if cell.attack == "clean" else CraftTask(
            f"a{i}", ref, None, AttackRef(cell.attack, labels.attack_base, params), ThreatRef(cell.threat, threat_model, {}),
            cell.eps, cell.lam, 0, n, 100)
        job = Job(f"e{i}", JobKind.EVALUATE, f"evaluate {cell.defense} | {_what(cell)} | {ref.label()}", (train.key,),
                  EvaluateTask(ref, stack, advset, labels, 0, 100))
        measured = None if cell.attack == "clean" else (cell.eps if cell.max_perturbation is None else cell.max_perturbation)
        result = EvalResult(np.array(cell.correct), np.array(cell.undefended or cell.correct), 0.002 * n, max_perturbation=measured)
        details = {"purification_timing": purification_timing(cell.defense)} if run.timed and cell.attack == "clean" else {}
        details["stage_settings"] = {s.label: {"preset_value": 1, **s.params} for s in stack}  # as the runner resolves them
        if advset is not None:
            details["attack_settings"] = {"norm": "linf", "random_start": True, **params}
        outcome = None if cell.status is None else _outcome(job.key, cell.status, result=result, error=cell.error,
                                                            details=details)
        plan.append((job, outcome))
    store.record_plan([job for job, _ in plan])
    for job, outcome in plan:
        if outcome is not None:
            store.record(job, outcome)
    store.finish_session("completed")
    store.close()
    return path


def _outcome(key: str, status: Status, *, details: dict | None = None, result: EvalResult | None = None,
             error: str | None = None) -> Outcome:
    return Outcome(key, status, 1.0, "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00", "cpu", error=error,
                   details=details or {}, result=result if status is Status.DONE else None)


def full_run(name: str = "synthetic", *, n: int = 8, defense_label: str = "aid") -> SyntheticRun:
    """Every part of the report: Table 3 attacks, sweeps, lambda, black-box, transfer, adaptive, defense variants."""
    rng = np.random.default_rng(0)

    def flags(p: float) -> list[bool]:
        return list(rng.random(n) < p)

    spec = {"defenses": {defense_label: {"base": "aid", "params": {}}, "aid_n2": {"base": "aid", "params": {"steps": 2}},
                         "aid_n5": {"base": "aid", "params": {"steps": 5}}},
            "attacks": {"pgd100": {"base": "pgd", "params": {"steps": 100}}}}
    cells = []
    for recipe, robust in (("natural", 0.1), ("madry", 0.6)):
        for defense, boost in (("none", 0.0), (defense_label, 0.2), ("aid_n2", 0.1), ("aid_n5", 0.15)):
            cells.append(Cell(recipe, defense, "clean", flags(0.95)))
            for attack in ("pgd", "cw", "deepfool", "mim", "autoattack"):
                cells.append(Cell(recipe, defense, attack, flags(robust + boost), undefended=flags(robust)))
        for defense in ("none", defense_label):
            for eps in (0.1, 0.2):
                cells.append(Cell(recipe, defense, "pgd", flags(0.8), eps=eps))
            cells.append(Cell(recipe, defense, "pgd100", flags(robust), attack_base="pgd"))
            cells.append(Cell(recipe, defense, "square", flags(0.7), threat="blackbox"))
            for source in ("same/natural", "lenet/natural"):
                for attack in ("pgd", "mim"):
                    cells.append(Cell(recipe, defense, attack, flags(0.6), threat="transfer", source=source))
            cells.append(Cell(recipe, defense, "pgd", flags(robust / 2), threat="adaptive"))
        for lam in (0.0, 0.5, 1.0):
            cells.append(Cell(recipe, defense_label, "pgd", flags(0.3 + lam / 2), threat="auxaware", lam=lam,
                              undefended=flags(0.1 + lam / 2)))
    return SyntheticRun(cells, name=name, spec=spec)


def hand_run(*, pending: bool = False) -> SyntheticRun:
    """Four examples where the two worst cases differ: PGD and MIM break different examples of 'none'."""
    cells = [Cell("natural", "none", "clean", [T, T, T, T]),
             Cell("natural", "none", "pgd", [T, T, F, F]),
             Cell("natural", "none", "mim", [F, F, T, T]),
             Cell("natural", "aid", "clean", [T, T, T, T]),
             Cell("natural", "aid", "pgd", [T, T, T, F]),
             Cell("natural", "aid", "mim", [F, T, T, T], status=None if pending else Status.DONE),
             Cell("madry", "none", "clean", [T, T, T, F]),
             Cell("madry", "none", "pgd", [T, T, F, F]),
             Cell("madry", "none", "mim", [T, T, F, F], status=Status.FAILED if pending else Status.DONE,
                  error="RuntimeError: out of memory\ntraceback")]
    return SyntheticRun(cells)


def row(table, classifier: str, defense: str) -> dict:
    frame = table.frame
    match = frame[(frame["Classifier"] == classifier) & (frame["Defense"] == defense)]
    assert len(match) == 1, (classifier, defense)
    return match.iloc[0].to_dict()


def position(table, classifier: str, defense: str) -> int:
    frame = table.frame
    return int(np.flatnonzero((frame["Classifier"] == classifier) & (frame["Defense"] == defense))[0])


# ---------------------------------------------------------------- the numbers


def test_worst_paper_and_worst_per_example_differ(tmp_path):
    data = load_report_data(write_run(tmp_path / "r.sqlite", hand_run()))
    table = table3(data, DATASET)
    none, aid = row(table, "natural", "none"), row(table, "natural", "aid")
    assert (none["Clean"], none["PGD"], none["MIM"]) == (100.0, 50.0, 50.0)
    assert none[WORST_PAPER] == 50.0 and none[WORST] == 0.0  # PGD and MIM break different halves
    assert aid[WORST_PAPER] == 75.0 and aid[WORST] == 50.0  # examples 0 and 3 each fall to one attack
    madry = row(table, "madry", "none")
    assert madry[WORST_PAPER] == 50.0 and madry[WORST] == 50.0  # the same examples fall: both agree
    assert list(table.frame.columns[:6]) == ["Section", "Classifier", "Defense", "Clean", "PGD", "MIM"]


def test_unqualified_worst_covers_every_threat_and_carries_an_interval(tmp_path):
    run = hand_run()
    run.cells.append(Cell("natural", "aid", "pgd", [F, T, T, T], threat="adaptive"))  # breaks example 0, which MIM broke too
    run.cells.append(Cell("natural", "aid", "square", [T, T, F, T], threat="blackbox"))  # breaks example 2: the worst drops
    data = load_report_data(write_run(tmp_path / "r.sqlite", run))
    aid = row(table3(data, DATASET), "natural", "aid")
    assert aid[WORST_PAPER] == 75.0 and aid[WORST] == 25.0  # the paper's columns miss the black-box attack
    assert aid[WORST_CI] == "[0.6, 80.6]"  # Clopper-Pearson for 1 of 4
    headline = row(headline_table(data, DATASET), "natural", "aid")
    assert headline["Worst"] == 25.0 and headline["Worst (column minimum)"] == 75.0
    assert headline["Weakest against"] == "pgd/oblivious eps=0.3"
    assert headline["Gain over none (pts)"] == 25.0 and headline["McNemar p"] == 1.0  # 1 example against 0
    assert headline["Significance"].startswith("not distinguishable from no defense at n = 4")


def test_gains_within_noise_are_marked_in_words(tmp_path):
    n = 150
    big = [T] * 120 + [F] * 30
    run = SyntheticRun([Cell("madry", "none", "clean", big), Cell("madry", "none", "pgd", [T] * 60 + [F] * 90),
                        Cell("madry", "aid", "clean", big), Cell("madry", "aid", "pgd", [T] * 64 + [F] * 86),  # +4 pts: noise
                        Cell("madry", "big", "clean", big), Cell("madry", "big", "pgd", [T] * 100 + [F] * 50)])  # +27 pts
    data = load_report_data(write_run(tmp_path / "r.sqlite", run))
    table = comparisons_table(data, DATASET)
    pgd = table.frame[table.frame["Attack"] == "pgd/oblivious eps=0.3"].set_index("Defense")
    assert pgd.loc["aid", "Significance"] == f"not distinguishable from no defense at n = {n} (McNemar p = 0.125)"
    assert pgd.loc["big", "Significance"] == "" and pgd.loc["big", "McNemar p"] < 1e-6
    aid = int(np.flatnonzero((table.frame["Defense"] == "aid") & (table.frame["Attack"] == "pgd/oblivious eps=0.3"))[0])
    assert table.marks[(aid, "Difference (pts)")] == "weak" and table.note.startswith(f"n = {n}.")
    headline = headline_table(data, DATASET)
    assert headline.title.endswith(f"(n = {n})") and row(headline, "madry", "big")["Significance"] == ""
    html = render_report(data.path, tmp_path / "out").read_text()
    assert f"not distinguishable from no defense at n = {n}" in html and "[34.6, 51.0]" in html  # aid's worst, 64 of 150


def test_adaptive_drop_is_paired(tmp_path):
    run = hand_run()
    run.cells.append(Cell("natural", "aid", "pgd", [F, F, F, F], threat="adaptive"))
    table = table_adaptive(load_report_data(write_run(tmp_path / "r.sqlite", run)), DATASET)
    (aid,) = table.frame.to_dict("records")
    assert aid["Drop (pts)"] == 75.0 and aid["McNemar p"] == 0.25 and aid["Drop 95% CI"].startswith("[")


def test_gain_over_none_in_points_and_percent(tmp_path):
    data = load_report_data(write_run(tmp_path / "r.sqlite", hand_run()))
    table = table3(data, DATASET)
    aid = row(table, "natural", "aid")
    assert aid[GAIN_POINTS] == 25.0 and aid[GAIN_PERCENT] == 50.0  # 50 -> 75
    assert np.isnan(row(table, "natural", "none")[GAIN_POINTS])


def test_best_of_each_block_and_sections(tmp_path):
    data = load_report_data(write_run(tmp_path / "r.sqlite", hand_run()))
    table = table3(data, DATASET)
    aid, none = position(table, "natural", "aid"), position(table, "natural", "none")
    assert table.marks[(aid, WORST_PAPER)] == BEST and (none, WORST_PAPER) not in table.marks
    assert (aid, "Clean") not in table.marks and (none, "Clean") not in table.marks  # all equal: nothing to mark
    ties = best_marks(pd.DataFrame({"block": ["a", "a", "a", "b"], "v": [2.0, 3.0, 3.0, 9.0]}), "block", ["v"])
    assert ties == {(1, "v"): BEST, (2, "v"): BEST}  # ties are all best; a block of one row has none
    assert (position(table, "madry", "none"), "PGD") not in table.marks  # a block of one row has no best
    assert table.frame["Section"].tolist() == ["Stand-alone (natural training)"] * 2 + ["Add-on (adversarially trained)"]
    summary = table1(table, DATASET)
    assert summary.frame.columns.tolist() == ["Defense", "natural", "madry"]
    assert summary.frame.set_index("Defense").loc["aid", "natural"] == 75.0


def test_partial_run_marks_missing_cells_and_bounds(tmp_path):
    data = load_report_data(write_run(tmp_path / "r.sqlite", hand_run(pending=True)))
    table = table3(data, DATASET)
    aid, madry = position(table, "natural", "aid"), position(table, "madry", "none")
    assert table.marks[(aid, "MIM")] == MISSING and table.tips[(aid, "MIM")] == "pending"
    assert table.marks[(madry, "MIM")] == MISSING and table.tips[(madry, "MIM")] == "failed: RuntimeError: out of memory"
    assert table.marks[(aid, WORST_PAPER)] == PARTIAL and table.marks[(aid, WORST)] == PARTIAL
    assert row(table, "natural", "aid")[WORST_PAPER] == 75.0  # the present columns only: an upper bound
    assert row(table, "natural", "aid")["Missing"] == "pending: MIM"
    assert row(table, "natural", "aid")[GAIN_POINTS] == 25.0 and table.marks[(aid, GAIN_POINTS)] == PARTIAL  # at most
    assert table.frame.columns[-1] == "Missing"
    index = render_report(data.path, tmp_path / "out")
    html = index.read_text()
    assert "Partial run" in html and ">pending</td>" in html and ">failed</td>" in html and "\u2264 75.00" in html
    assert "RuntimeError: out of memory" in html  # the provenance lists the failed job with its error


def test_no_gain_over_an_incomplete_none(tmp_path):
    run = hand_run(pending=True)  # madry's 'none' lacks MIM: its worst case is only an upper bound
    run.cells += [Cell("madry", "aid", "clean", [T, T, T, T]), Cell("madry", "aid", "pgd", [T, T, T, F]),
                  Cell("madry", "aid", "mim", [T, T, T, F])]
    table = table3(load_report_data(write_run(tmp_path / "r.sqlite", run)), DATASET)
    aid = position(table, "madry", "aid")
    assert row(table, "madry", "aid")[WORST_PAPER] == 75.0 and np.isnan(row(table, "madry", "aid")[GAIN_POINTS])
    assert table.marks[(aid, GAIN_PERCENT)] == MISSING and table.tips[(aid, GAIN_PERCENT)].startswith("incomplete")


def test_a_run_without_any_result_renders_what_is_planned(tmp_path):
    run = hand_run()
    for cell in run.cells:
        cell.status = None
    path = write_run(tmp_path / "r.sqlite", run)
    table = table3(load_report_data(path), DATASET)
    missing = [column for (_, column), mark in table.marks.items() if mark == MISSING]
    assert len(missing) == 9 + 2 and table.frame[WORST_PAPER].isna().all()  # 9 cells and natural aid's two gains
    assert missing.count(GAIN_POINTS) == missing.count(GAIN_PERCENT) == 1
    index = render_report(path, tmp_path / "out")
    assert "Partial run" in index.read_text()
    assert (index.parent / "mnist5k-table3.csv").is_file() and not list(index.parent.glob("*.png"))


def test_main_eps_and_sweeps(tmp_path):
    data = load_report_data(write_run(tmp_path / "r.sqlite", full_run()))
    table = table3(data, DATASET)
    assert "pgd100 (PGD)" not in table.frame.columns  # a variant goes to the sweeps when pgd has its own column
    assert "PGD at eps 0.3" in table.note and "AutoAttack" in table.frame.columns
    (eps_sweep,) = attack_eps_sweeps(data, DATASET)
    assert eps_sweep.frame["eps"].tolist() == [0.0, 0.1, 0.2, 0.3] and eps_sweep.frame["In Table 3"].tolist() == [F, F, F, T]
    assert eps_sweep.title.endswith("(oblivious threat)") and eps_sweep.n == 8 and "eps 0 is the clean accuracy" in eps_sweep.note
    assert eps_sweep.frame.loc[0, "madry"] == row(table, "madry", "none")["Clean"]  # eps 0: the clean accuracy
    (variants,) = attack_variant_sweeps(data, DATASET)
    assert variants.frame["Attack"].tolist() == ["pgd", "pgd100"] and variants.frame["Parameters"].tolist() == ["steps=40", "steps=100"]
    (defense,) = defense_sweeps(table, data.spec, DATASET)
    assert defense.x == "steps" and set(defense.frame["Defense"]) == {"aid", "aid_n2", "aid_n5"}
    lam = lambda_sweep(data, DATASET)
    assert lam.frame["lambda"].tolist() == [0.0, 0.5, 1.0] and "natural + aid: before" in lam.frame.columns


def timing_run(*, timed: bool = True) -> SyntheticRun:
    """'none', 'aid' and the two-stage 'nrp+aid' on madry; aid's clean evaluation still pending."""
    return SyntheticRun([Cell("madry", "none", "clean", [T, T, F, F]), Cell("madry", "none", "pgd", [T, F, F, F]),
                         Cell("madry", "aid", "clean", [T, T, T, F], status=None), Cell("madry", "aid", "pgd", [T, T, F, F]),
                         Cell("madry", "nrp+aid", "clean", [T, T, T, T]), Cell("madry", "nrp+aid", "pgd", [T, T, T, F])],
                        timed=timed)


def test_table2_shows_batch_1_and_large_batch_timing_and_training(tmp_path):
    table = table2(load_report_data(write_run(tmp_path / "r.sqlite", timing_run())), DATASET)
    stacked, none, aid = (row(table, "madry", d) for d in ("nrp+aid", "none", "aid"))
    assert stacked[SINGLE] == 4.0 and stacked["Batch 256 (img/s)"] == 2000.0  # the clean evaluation's record, in ms
    assert stacked[SINGLE_CPU] == 3.0 and stacked["Batch 256 CPU (img/s)"] == 2500.0
    assert stacked[TRAINING] == 25.0 and stacked[STAGES] == "nrp 12.5, aid 12.5"  # two stages of 12.5 s each
    assert none[SINGLE] == 0.001 and none[TRAINING] == 0.0 and none[STAGES] == ""
    assert stacked[EVALUATION] == 2.0  # 0.002 s/img as recorded while evaluating
    assert EVALUATION_BATCH not in table.frame and "evaluation batch size, 100 " in table.note  # one size: in the note
    position_aid = position(table, "madry", "aid")  # its clean evaluation is pending: no timing yet, the rest is there
    assert np.isnan(aid[SINGLE]) and table.marks[(position_aid, SINGLE)] == MISSING
    assert table.tips[(position_aid, "Batch 256 (img/s)")] == "pending" and aid[TRAINING] == 12.5
    assert "mean of 8 calls" in table.note and "Not recorded" not in table.note
    assert stacked[SINGLE_SD] == 0.5 and none[SINGLE_SD] == 0.0001  # the spread of the 8 calls, in ms
    assert table.text("Batch 256 (img/s)", none["Batch 256 (img/s)"]) == "1,000,000"  # written out, not 1e+06
    render_report(tmp_path / "r.sqlite", tmp_path / "out")
    assert ">1,000,000</td>" in (tmp_path / "out" / "index.html").read_text()


def test_table2_of_a_database_without_timing_marks_it_not_recorded(tmp_path):
    index = render_report(write_run(tmp_path / "r.sqlite", timing_run(timed=False)), tmp_path / "out")
    table = table2(load_report_data(tmp_path / "r.sqlite"), DATASET)
    assert "Large batch (img/s)" in table.frame.columns and "Batch 256 (img/s)" not in table.frame.columns
    assert table.frame[SINGLE].isna().all() and table.frame[TRAINING].tolist() == [0.0, 12.5, 25.0]
    stacked = position(table, "madry", "nrp+aid")
    assert table.marks[(stacked, SINGLE)] == MISSING and table.tips[(stacked, SINGLE)].startswith("not recorded")
    html = index.read_text()
    assert html.count(">not recorded</td>") == 10  # five timing columns of 'none' and 'nrp+aid'; aid's are pending
    with open(index.parent / "mnist5k-table2.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r[SINGLE] for r in rows] == ["", "", ""] and [r[TRAINING] for r in rows] == ["0.0", "12.5", "25.0"]


def test_settings_show_the_attack_parameters_used_and_whose_presets_they_are(tmp_path):
    data = load_report_data(write_run(tmp_path / "r.sqlite", full_run()))
    table = attack_settings(data, DATASET)
    pgd = table.frame[(table.frame["Attack"] == "pgd") & (table.frame["Threat"] == "oblivious")]
    assert pgd["eps"].tolist() == [0.3, 0.1, 0.2]  # every eps run, a row each
    assert pgd["Parameters"].iloc[0] == "norm=linf, random_start=True, steps=40"  # defaults included, the preset filled in
    assert pgd["Largest perturbation measured"].tolist() == [0.3, 0.1, 0.2]
    assert "mnist5k: ours, not the paper's" in table.note
    assert preset_origin("cifar10").startswith("the paper's") and preset_origin("npz:my.npz").startswith("ours")
    stages = defense_settings(data, DATASET).frame.set_index("Stage")
    assert stages.at["aid_n2", "Set by the spec"] == "steps=2" and stages.at["aid", "Set by the spec"] == ""
    assert stages.at["aid_n2", "Parameters (all)"] == "preset_value=1, steps=2" and stages.at["aid", "Parameters (all)"] == "preset_value=1"
    assert "PGD at eps 0.3 (largest perturbation measured 0.3)" in table3(data, DATASET).note


def test_settings_of_a_run_without_resolved_parameters_fall_back_to_the_recorded_ones(tmp_path):
    db = write_run(tmp_path / "r.sqlite", hand_run())
    with sqlite3.connect(db) as conn:  # as the runner wrote results before it kept resolved settings
        conn.execute("UPDATE jobs SET details_json = '{}'")
        conn.execute("UPDATE results SET max_perturbation = NULL")
    data = load_report_data(db)
    table = attack_settings(data, DATASET)
    assert table.frame["Parameters"].tolist() == ["steps=40", "steps=40"]
    assert table.frame["Largest perturbation measured"].isna().all()
    assert "largest perturbation" not in table3(data, DATASET).note
    assert defense_settings(data, DATASET).frame["Parameters (all)"].tolist() == ["", ""]


class _CountingStack:
    """A purifier that records the batch size of every call."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.stages: list = []  # no registered stage

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        return x.clamp(0.1, 0.9)


class _Context:
    """The part of a RunContext that an evaluate job uses: 20 test images of 2 x 2 pixels, a linear classifier."""

    def __init__(self, stack: _CountingStack) -> None:
        self.device, self._stack, self.job_progress = torch.device("cpu"), stack, JobProgress()
        self.split = SimpleNamespace(x=torch.rand(20, 1, 2, 2, generator=torch.Generator().manual_seed(0)),
                                     y=torch.zeros(20, dtype=torch.long))

    def classifier(self, ref):
        return SimpleNamespace(model=torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)))

    def stack(self, ref, stages, seed):
        return self._stack

    def test_split(self, dataset, n):
        return self.split

    def advset(self, task):
        return SimpleNamespace(x_adv=self.split.x.flip(0))


@pytest.mark.parametrize("clean", [True, False])
def test_the_clean_evaluation_times_purification_at_batch_1_and_takes_its_throughput_from_its_own_batches(clean):
    from bench.jobs_execute import TIMING_SINGLE_IMAGES, execute

    ref = _classifier("madry", "madry")
    advset = None if clean else CraftTask("a", ref, None, AttackRef("pgd", "pgd", {}), ThreatRef("oblivious", "oblivious", {}),
                                          0.3, None, 0, 20, 10)
    labels = ResultLabels(dataset=DATASET, arch=ARCH, recipe="madry", seed=0, defense="x", attack="clean" if clean else "pgd",
                          attack_base="clean" if clean else "pgd", threat="oblivious", threat_model="oblivious",
                          eps=0.0 if clean else 0.3, lam=None, source=None, source_kind=None, source_classifier=None, n=20)
    stack = _CountingStack()
    job = Job("e", JobKind.EVALUATE, "evaluate x", (), EvaluateTask(ref, (), advset, labels, 0, 10))
    outcome = execute(job, _Context(stack))
    assert outcome.status is Status.DONE, outcome.error
    assert stack.batches[:2] == [10, 10]  # the evaluation itself, at the evaluation batch size
    if not clean:
        assert "purification_timing" not in outcome.details and len(stack.batches) == 2
        x = _Context(stack).split.x
        measured = (x.flip(0) - x).abs().flatten(1).amax(1).max().item()  # the stand-in's x_adv is x reversed
        assert outcome.result.max_perturbation == pytest.approx(measured) and measured > 0
        assert outcome.details["attack_settings"]["steps"] == 40 and outcome.details["attack_settings"]["norm"] == "linf"
        return
    assert outcome.result.max_perturbation is None
    timing = outcome.details["purification_timing"]
    assert TIMING_SINGLE_IMAGES == 8
    assert stack.batches[2:] == [1] * (1 + TIMING_SINGLE_IMAGES)  # a warm-up call and 8 timed; no extra large batch
    assert timing["single_images"] == 8 and timing["batch_size"] == 10 and timing["device"] == "cpu"
    assert timing["seconds_per_image"] > 0 and timing["images_per_second"] > 0 and timing["cpu_seconds_per_image"] >= 0
    assert timing["images_per_second"] == pytest.approx(20 / outcome.result.purify_seconds)  # its 20 images in batches of 10


# ---------------------------------------------------------------- the files


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.links += [v for k, v in attrs if k in ("href", "src") and v and not v.startswith(("#", "data:"))]


def test_files_are_written_and_linked(tmp_path):
    index = render_report(write_run(tmp_path / "r.sqlite", full_run()), tmp_path / "out")
    out = index.parent
    parser = _Links()
    parser.feed(index.read_text())
    assert parser.links and all((out / link).is_file() for link in parser.links)
    suffixes = {Path(link).suffix for link in parser.links}
    assert suffixes == {".png", ".pdf", ".csv", ".md", ".tex"}
    names = {p.name for p in out.iterdir()}
    for stem in ("mnist5k-table1", "mnist5k-table3", "mnist5k-table2", "mnist5k-table4", "mnist5k-adaptive", "mnist5k-lambda",
                 "provenance-sessions"):
        assert {f"{stem}.csv", f"{stem}.md", f"{stem}.tex"} <= names, stem
    assert {"mnist5k-figure4.png", "mnist5k-sweep-eps-pgd.png", "mnist5k-sweep-defense-aid.png"} <= names
    assert {"mnist5k-figure4.pdf", "mnist5k-sweep-eps-pgd.pdf", "mnist5k-sweep-defense-aid.pdf"} <= names  # vector, for papers
    assert all((out / n).read_bytes().startswith(b"%PDF") for n in names if n.endswith(".pdf"))
    assert all((out / n).read_bytes().startswith(b"\x89PNG") for n in names if n.endswith(".png"))
    with open(out / "mnist5k-table3.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["Defense"] for r in rows} == {"none", "aid", "aid_n2", "aid_n5"} and "Worst" in rows[0]
    assert "\\begin{tabular}" in (out / "mnist5k-table3.tex").read_text()
    assert parser.scripts == 0 and not re.search(r"https?://", index.read_text())  # offline: nothing fetched


def test_a_json_record_per_classifier_and_stack(tmp_path):
    index = render_report(write_run(tmp_path / "r.sqlite", hand_run()), tmp_path / "out")
    records = {p.name: json.loads(p.read_text()) for p in (index.parent / "records").iterdir()}
    assert set(records) == {"mnist5k-smallcnn-natural-0-none.json", "mnist5k-smallcnn-natural-0-aid.json",
                            "mnist5k-smallcnn-madry-0-none.json"}
    aid = records["mnist5k-smallcnn-natural-0-aid.json"]
    assert (aid["clean"], aid["worst"], aid["worst_column"], aid["worst_paper"], aid["n"]) == (100.0, 50.0, 75.0, 75.0, 4)
    assert aid["worst_ci_low"] == pytest.approx(6.76, abs=0.01) and aid["gain"] == 50.0 and aid["gain_p"] == 0.5
    assert aid["report"] == str(index) and aid["versions"] == {"torch": "2.x", "python": "3.11"}
    assert aid["code_revision"] == "abc123-dirty" and aid["audit_verdict"] is None and aid["accuracy_unit"] == "percent"
    assert [(r["attack"], r["accuracy"]) for r in aid["results"]] == [("clean", 100.0), ("pgd", 75.0), ("mim", 75.0)]
    assert records["mnist5k-smallcnn-natural-0-none.json"]["gain"] is None  # no gain of 'none' over itself


def test_names_render_as_text_everywhere(tmp_path, monkeypatch):
    evil = "<script>alert(1)</script>"
    monkeypatch.chdir(tmp_path)
    odd = "a<b>&c $^$"  # markup, and "$...$" that matplotlib would parse (and fail on) as mathtext in a legend
    index = render_report(write_run(tmp_path / "r.sqlite", full_run(evil, defense_label=odd)))
    assert index.parent.parent == Path("reports") and "<" not in str(index) and index.is_file()
    html = index.read_text()
    assert "<script" not in html.lower() and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>&c" not in html and "a&lt;b&gt;&amp;c $^$" in html
    files = list(index.parent.iterdir())
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", p.name) for p in files) and len(list(index.parent.glob("*.png"))) == 3
    assert "a&lt;b&gt;&amp;c $^$" in (index.parent / "mnist5k-table3.md").read_text()
    assert r"a\textless{}b\textgreater{}\&c \$" in (index.parent / "mnist5k-table3.tex").read_text()


def test_missing_cells_carry_the_labels_the_plan_stored(tmp_path):
    """A pending cell is placed from stored columns (a stand-in dataset of 20 blank images keeps planning instant)."""
    from bench.data import DatasetSplits, Split
    from bench.plan import build_plan
    from bench.spec import load_spec
    from bench.store import Store

    blank = Split(torch.zeros(20, 1, 28, 28), torch.zeros(20, dtype=torch.long))
    spec = load_spec(overrides={"recipes": ["natural"], "defenses": ["aid"], "attacks": ["pgd"], "threats": ["auxaware", "transfer"],
                                "sources": ["same", "lenet"], "lam": [0.5], "n": 10})
    plan = build_plan(spec, {"mnist5k": DatasetSplits("mnist5k", blank, blank, 10, "blank")})
    store = Store(tmp_path / "pending.sqlite")
    store.register_run(name="p", spec_digest="d", spec_json="{}", spec_text="", seed=0, n=10, device="cpu")
    store.record_plan(plan.ordered())
    store.close()
    jobs = {j.key: j for j in plan.ordered() if j.kind is JobKind.EVALUATE}
    cells = load_report_data(tmp_path / "pending.sqlite").cells
    assert len(jobs) == 4 and sorted(cells["job_key"]) == sorted(jobs) and set(cells["status"]) == {"pending"}
    for cell in cells.to_dict("records"):
        labels = asdict(jobs[cell["job_key"]].task.labels)
        assert {k: None if pd.isna(cell[k]) else cell[k] for k in labels} == labels


def test_not_a_results_database(tmp_path):
    with pytest.raises(UserError, match="results database"):
        render_report(tmp_path / "nothing.sqlite", tmp_path / "out")
    (tmp_path / "junk.sqlite").write_text("not sqlite")
    with pytest.raises(UserError):
        render_report(tmp_path / "junk.sqlite", tmp_path / "out")


def test_the_run_summary_gives_each_accuracy_its_interval_and_each_threat_its_lowest(tmp_path):
    from bench.run_summary import summary_tables
    from bench.statistics import accuracy_interval

    tables = summary_tables(write_run(tmp_path / "r.sqlite", hand_run()))
    cell = tables["baseline"].loc[(DATASET, ARCH, "natural", 0, "aid"), "pgd@0.3"]
    interval = accuracy_interval(3, 4)
    assert cell == f"75.0 [{100 * interval.low:.1f}, {100 * interval.high:.1f}]"

    run = full_run()
    tables = summary_tables(write_run(tmp_path / "full.sqlite", run))
    transfer = [c for c in run.cells if c.threat == "transfer" and c.recipe == "madry" and c.defense == "aid"]
    lowest = min(100 * sum(c.correct) / len(c.correct) for c in transfer)
    assert tables["threats"].loc[(DATASET, ARCH, "madry", 0, "aid"), "transfer"].startswith(f"{lowest:.1f} [")
