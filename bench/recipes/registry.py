"""The recipe registry: factories ``(dataset, **params) -> Recipe`` with per-dataset presets."""

from __future__ import annotations

from typing import Any

from bench.recipes.base import Recipe, TrainConfig
from bench.registry import Registry

RECIPES: Registry[Recipe] = Registry("recipes")


def preset_config(recipe_cls: type[Recipe], dataset: str, params: dict[str, Any]) -> TrainConfig:
    """The recipe's preset for ``dataset`` (or its ``"*"`` preset), overridden by ``params``."""
    source = dataset.split(":")[0]
    preset = recipe_cls.PRESETS.get(source, recipe_cls.PRESETS.get("*", {}))
    return TrainConfig.from_params(TrainConfig.from_params(TrainConfig(), preset), params)
