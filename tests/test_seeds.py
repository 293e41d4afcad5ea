"""The seeds axis: the matrix once per seed, and tables that aggregate across seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t

from bench.jobs import JobKind
from bench.plan import build_plan
from bench.report import render_report
from bench.report.headline import headline_table, seeds_table
from bench.report.load import load_report_data
from bench.seeds import mean_interval
from bench.spec import SpecError, parse_spec
from test_report import DATASET, Cell, SyntheticRun, write_run

T, F = True, False


def test_each_seed_trains_fits_and_attacks_anew(mnist):
    one = build_plan(parse_spec({"n": 20, "defenses": ["none", "aid"], "attacks": ["pgd"]}), {"mnist5k": mnist})
    three = build_plan(parse_spec({"n": 20, "defenses": ["none", "aid"], "attacks": ["pgd"], "seeds": [0, 1, 2]}),
                       {"mnist5k": mnist})
    assert {k: 3 * v for k, v in one.counts().items()} == three.counts()
    evaluations = [j.task for j in three.ordered() if j.kind is JobKind.EVALUATE]
    assert sorted({(e.labels.seed, e.seed, e.classifier.seed) for e in evaluations}) == [(s, s, s) for s in (0, 1, 2)]
    first = {j.key for j in one.ordered()}
    assert first <= {j.key for j in three.ordered()}  # seed 0 of a seeds spec is the same jobs as a seed-0 spec


def test_seeds_are_checked():
    assert parse_spec({}).digest() == parse_spec({"seed": 0}).digest()  # a spec without seeds keeps its digest
    assert parse_spec({"seeds": [0, 1]}).run_seeds == (0, 1) and parse_spec({"seed": 3}).run_seeds == (3,)
    with pytest.raises(SpecError, match="not both"):
        parse_spec({"seed": 1, "seeds": [0, 1]})
    for bad in ([], [0, -1], [0, 0], "0,1", [0.5]):
        with pytest.raises(SpecError, match="seeds"):
            parse_spec({"seeds": bad})


def test_mean_interval_is_students_t():
    mean, std, low, high = mean_interval(np.array([50.0, 60.0, 70.0]))
    half = t.ppf(0.975, 2) * 10 / math.sqrt(3)
    assert (mean, std) == (60.0, 10.0) and (low, high) == pytest.approx((60 - half, 60 + half))
    single = mean_interval(np.array([42.0]))
    assert single[0] == 42.0 and all(math.isnan(v) for v in single[1:])


def test_tables_aggregate_across_seeds_with_per_seed_values_beside(tmp_path):
    cells = []
    for seed, pgd in ((0, [T, T, F, F]), (1, [T, T, T, F]), (2, [T, F, F, F])):
        cells += [Cell("madry", "none", "clean", [T, T, T, T], seed=seed), Cell("madry", "none", "pgd", pgd, seed=seed)]
    data = load_report_data(write_run(tmp_path / "r.sqlite", SyntheticRun(cells)))
    (row,) = seeds_table(data, DATASET).frame.to_dict("records")
    assert row["Seeds"] == 3 and row["Worst (mean)"] == 50.0 and row["Worst (std)"] == 25.0
    assert row["Worst per seed"] == "0: 50.00, 1: 75.00, 2: 25.00" and row["Clean (std)"] == 0.0
    per_seed = headline_table(data, DATASET).frame
    assert per_seed["Classifier"].tolist() == ["madry (seed 0)", "madry (seed 1)", "madry (seed 2)"]
    index = render_report(data.path, tmp_path / "out")
    assert (index.parent / "mnist5k-seeds.csv").is_file() and (index.parent / "mnist5k-worst.csv").is_file()
    assert seeds_table(load_report_data(write_run(tmp_path / "one.sqlite", SyntheticRun(cells[:2]))), DATASET) is None
