"""The example grids of ``report --examples``: which examples a defense wins and loses, the images rebuilt from the
artifact cache through the run's context (the shown draw being the one the evaluation counted), and what the grid
says when the cache lacks an artifact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench

from bench.cli import main
from bench.report import render_report
from bench.report.examples import LOSS, WIN, choose_examples, example_grids
from bench.report.load import load_report_data
from defenses import DEFENSES, Defense
from test_report import full_run, write_run

T, F = True, False

SPEC = """
name = "examples"
n = 40
device = "cpu"
threads = 1
draws = 3
recipes = ["natural"]
defenses = ["none", "coin"]
attacks = ["pgd"]
threats = ["oblivious"]
[recipe_params.natural]
epochs = 1
batch_size = 256
[attack_params.pgd]
steps = 3
"""


class Coin(Defense):
    """Binarizes the image at 0.5 (which undoes an L-inf perturbation of 0.3 on MNIST), then dims it by a random
    brightness in [0.75, 1) at every call: a randomized stack that wins examples, with every draw's images its own."""

    randomized = True

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return (x > 0.5).to(x.dtype) * (0.75 + 0.25 * torch.rand(len(x), 1, 1, 1))


def test_wins_and_losses_are_chosen_from_the_flags():
    robust = np.array([T, T, F, F, T, F, T, T])  # defended, correct on every draw
    shown = np.array([T, T, F, T, T, F, T, T])  # on the draw shown: example 3 is right there, so it is no loss to show
    undefended = np.array([F, T, F, F, F, F, F, T])  # the classifier alone on the adversarial input
    clean = np.array([T, T, T, T, T, F, T, T])  # defended, on the clean input: example 5 is lost before any attack
    chosen = choose_examples(robust, shown, undefended, clean, k=2)
    assert chosen.wins == (0, 4)  # fooled the classifier, right after the defense; the first two in test order
    assert chosen.losses == (2,)  # wrong after the defense on the shown draw, right on the clean example
    assert choose_examples(robust, shown, undefended, None, k=3).losses == (2, 5)  # no clean result: every loss


@pytest.fixture()
def coin_run(tmp_path, monkeypatch, capsys):
    DEFENSES.names()  # load plugins before patching the table
    monkeypatch.setitem(DEFENSES._factories, "coin", lambda **p: Coin(**p))
    (tmp_path / "examples.toml").write_text(SPEC)
    db = tmp_path / "examples.sqlite"
    assert main(["run", str(tmp_path / "examples.toml"), "--results", str(db)]) == 0
    return db


def test_the_shown_images_and_labels_are_those_the_evaluation_counted(coin_run):
    (grid,) = example_grids(load_report_data(coin_run), "mnist5k", k=8)
    assert grid.defense == "coin" and grid.result == "pgd/oblivious eps=0.3" and grid.missing == ()
    assert grid.draw.startswith("draw 1 of 3")
    assert WIN in [row.outcome for row in grid.rows]
    for row in grid.rows:  # each label agrees with the stored flags
        if row.outcome == WIN:
            assert row.purified == row.true != row.adversarial
        else:
            assert row.outcome == LOSS and row.purified != row.true
    results = bench.load_results(coin_run)
    key = results.frame.query("defense == 'coin' and attack == 'pgd'").job_key.iloc[0]
    x_adv = results.adversarial(key)
    torch.manual_seed(0)  # the evaluation's first draw: the run's seed plus the draw's index, all 40 in one batch
    first_draw = Coin().purify(x_adv)
    shown = [row.index for row in grid.rows]
    assert torch.equal(grid.purified, first_draw[shown]) and torch.equal(grid.adversarial, x_adv[shown])
    assert grid.clean.shape == (len(shown), 1, 28, 28)
    assert (grid.adversarial - grid.clean).abs().max() <= 0.3 + 1e-6
    assert grid.factor == pytest.approx(0.5 / float((grid.adversarial - grid.clean).abs().max()))


def test_a_missing_artifact_is_said_and_the_rest_shown(tmp_path, isolated_cache):
    db = write_run(tmp_path / "r.sqlite", full_run())  # results only: the cache holds none of its artifacts
    grids = [g for g in example_grids(load_report_data(db), "mnist5k") if not isinstance(g, str)]
    assert grids and all(g.missing and "is not in the artifact cache" in g.missing[0] for g in grids)
    assert all(g.clean is not None and len(g.clean) == len(g.rows) and g.purified is None for g in grids)
    index = render_report(db, tmp_path / "report", examples=True)
    assert "Not shown: the adversarial set" in index.read_text()
