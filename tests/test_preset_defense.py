"""What every trained defense built on ``PresetDefense`` shares: preset-keyed identity, early errors, fit sharing."""

from __future__ import annotations

import pytest
import torch

from bench.errors import UserError
from defenses import DEFENSES
from defenses.preset_defense import PresetDefense

PRESET_DEFENSES = [name for name in DEFENSES.names() if isinstance(DEFENSES.create(name), PresetDefense)]


def test_every_trained_defense_is_a_preset_defense():
    assert set(PRESET_DEFENSES) >= {"aid", "pixeldefend", "defensegan", "nrp", "dir"}


@pytest.mark.parametrize("name", PRESET_DEFENSES)
def test_identity_follows_the_preset_table(name, monkeypatch):
    """Cached states are keyed by ``identity``: editing a preset must change it even when no parameter is given."""
    cls = type(DEFENSES.create(name))
    before, before_fit = cls().identity(), cls().fit_identity()
    monkeypatch.setitem(cls.PRESETS, "mnist5k", {**cls.PRESETS["mnist5k"], "__edited__": True})
    after = cls()
    assert after.identity() != before and after.identity()["params"] == before["params"]
    assert after.fit_identity() != before_fit


@pytest.mark.parametrize("name", PRESET_DEFENSES)
def test_purify_before_fit_names_the_fix(name):
    with pytest.raises(UserError, match="fit"):
        DEFENSES.create(name).purify(torch.zeros(1, 1, 28, 28))


@pytest.mark.parametrize("name", PRESET_DEFENSES)
def test_inference_parameters_are_constructor_parameters(name):
    """A name in INFERENCE_PARAMS that the constructor does not take would silently never be left out of a fit key."""
    cls = type(DEFENSES.create(name))
    assert cls.INFERENCE_PARAMS <= set(cls().params), cls.INFERENCE_PARAMS - set(cls().params)
