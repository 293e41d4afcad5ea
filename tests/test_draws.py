"""Randomized stacks over several draws: an example counts only if it is correct on every draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import bench
from bench.spec import SpecError, parse_spec
from bench.worst import mean_over_draws, per_example_worst, stack_worst
from defenses import Defense

N = 40


class Coin(Defense):
    """Blanks each image with probability 1/2 at every call: fresh randomness per purification."""

    randomized = True

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        keep = (torch.rand(len(x), 1, 1, 1) < 0.5).to(x.dtype)
        return x * keep


def test_a_randomized_defense_is_scored_on_its_worst_draw(natural_cnn, tmp_path):
    frame = bench.evaluate(natural_cnn, defenses=["none", Coin()], attacks=["pgd"], n=N, device="cpu",
                           attack_params={"pgd": {"steps": 3}}, results=tmp_path / "draws.sqlite", progress=False, draws=4)
    coin = frame[frame["defense"] == "Coin"].set_index("attack")
    none = frame[frame["defense"] == "none"].set_index("attack")
    assert (coin["draws"] == 4).all() and (none["draws"] == 1).all()  # a deterministic stack runs once
    assert (coin["accuracy"] < coin["accuracy_mean_draws"]).all()  # worst over draws below the mean over draws
    assert (none["accuracy"] == none["accuracy_mean_draws"]).all()
    assert coin.loc["clean", "accuracy"] <= coin.loc["clean", "ci_high"] and coin.loc["clean", "ci_low"] <= coin.loc["clean", "accuracy"]
    again = bench.evaluate(natural_cnn, defenses=["none", Coin()], attacks=["pgd"], n=N, device="cpu",
                           attack_params={"pgd": {"steps": 3}}, results=tmp_path / "draws.sqlite", progress=False, draws=4)
    pd.testing.assert_frame_equal(again, frame)  # the same draws again: seeded per draw


def test_draws_must_be_positive():
    with pytest.raises(SpecError, match="draws must be >= 1"):
        parse_spec({"draws": 0})


def test_worst_and_mean_over_draws():
    draws = np.array([[True, True, False, True], [True, False, True, True]])  # (draws, n)
    clean = np.array([[True, True, True, True], [True, True, True, False]])
    assert per_example_worst([draws]) == 50.0 and mean_over_draws([draws]) == 75.0
    assert per_example_worst([draws, clean]) == 25.0 and mean_over_draws([draws, clean]) == 62.5
    results = pd.DataFrame({"dataset": "d", "arch": "a", "recipe": "r", "seed": 0, "defense": "coin",
                            "attack": ["clean", "pgd"], "attack_base": ["clean", "pgd"], "threat": "oblivious",
                            "threat_model": "oblivious", "eps": [0.0, 0.3], "lam": None, "source": None, "n": 4,
                            "accuracy": [0.75, 0.25], "job_key": ["c", "p"]})
    (row,) = stack_worst(results, {"c": clean, "p": draws}).to_dict("records")
    assert row["worst"] == 25.0 and row["worst_mean_draws"] == 62.5 and row["draws"] == 2
    assert row["clean"] == 75.0 and row["clean_mean_draws"] == 87.5


def test_load_results_gives_flags_per_draw_and_adversarial_images(natural_cnn, tmp_path):
    from bench.errors import UserError

    db = tmp_path / "draws.sqlite"
    frame = bench.evaluate(natural_cnn, defenses=["none", Coin()], attacks=["pgd"], n=N, device="cpu",
                           attack_params={"pgd": {"steps": 3}}, results=db, progress=False, draws=3)
    results = bench.load_results(db)
    pd.testing.assert_frame_equal(results.frame, frame)
    pgd = frame[(frame["defense"] == "Coin") & (frame["attack"] == "pgd")].iloc[0]
    flags = results.flags(pgd["job_key"])
    assert list(flags.columns) == ["correct", "correct_undefended", "draw_0", "draw_1", "draw_2"] and len(flags) == N
    assert flags["correct"].equals(flags[["draw_0", "draw_1", "draw_2"]].all(axis=1))
    assert flags["correct"].sum() == pgd["correct"] and pgd["accuracy"] == 100 * pgd["correct"] / N
    assert pgd["clean_accuracy"] == frame[(frame["defense"] == "Coin") & (frame["attack"] == "clean")]["accuracy"].iloc[0]
    worst = results.worst().set_index("defense")
    assert worst.loc["Coin", "worst"] < worst.loc["Coin", "worst_mean_draws"] and worst.loc["Coin", "draws"] == 3
    assert worst.loc["none", "worst"] <= frame[frame["defense"] == "none"]["accuracy"].min()
    x_adv = results.adversarial(pgd["job_key"])
    assert x_adv.shape == (N, 1, 28, 28) and 0 <= float(x_adv.min()) and float(x_adv.max()) <= 1
    clean = frame[frame["attack"] == "clean"].iloc[0]["job_key"]
    with pytest.raises(UserError, match="no adversarial set"):
        results.adversarial(clean)
    with pytest.raises(UserError, match="no result"):
        results.flags("nope")
