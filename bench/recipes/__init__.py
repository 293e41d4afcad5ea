"""Training recipes for base classifiers: natural, madry, trades, avmixup."""

from bench.recipes import avmixup, madry, natural, trades  # noqa: F401  (registration)
from bench.recipes.base import Recipe, TrainConfig, train
from bench.recipes.registry import RECIPES

__all__ = ["RECIPES", "Recipe", "TrainConfig", "train"]
