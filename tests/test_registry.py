"""Registries: registration, lookup errors, duplicates, and pattern listing."""

from __future__ import annotations

import pytest

from attacks import ATTACKS
from bench.data import DATASETS
from bench.errors import UnknownNameError, UnknownParameterError
from bench.models import ARCHS
from bench.recipes import RECIPES
from bench.registry import Registry
from defenses import DEFENSES


def test_register_create_and_list() -> None:
    reg: Registry[int] = Registry("things")

    @reg.register("one")
    def one(offset: int = 0) -> int:
        return 1 + offset

    reg.add("two", lambda: 2)
    assert reg.create("one", offset=10) == 11
    assert reg.names() == ["one", "two"]
    assert reg.names("t*") == ["two"]
    assert "one" in reg and "three" not in reg


def test_unknown_name_lists_valid_names() -> None:
    reg: Registry[int] = Registry("things")
    reg.add("alpha", lambda: 1)
    reg.add("beta", lambda: 2)
    with pytest.raises(UnknownNameError, match="unknown things 'gamma'; valid names: alpha, beta"):
        reg.get("gamma")
    with pytest.raises(ValueError):  # UnknownNameError is also a ValueError, for callers that catch the usual lookup error
        reg.create("gamma")


def test_duplicate_and_malformed_names_are_errors() -> None:
    reg: Registry[int] = Registry("things")
    reg.add("alpha", lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("alpha", lambda: 2)
    for bad in ("", "a+b", "a,b", "a b", "npz:x"):
        with pytest.raises(ValueError, match="must be non-empty"):
            reg.add(bad, lambda: 3)


@pytest.mark.parametrize(
    "registry, expected",
    [
        (DATASETS, {"mnist5k", "cifar10", "cifar100", "svhn", "tinyimagenet", "npz", "imagefolder"}),
        (ARCHS, {"smallcnn", "lenet", "preact_resnet18", "wrn34_10", "wrn16_4", "vgg19"}),
        (RECIPES, {"natural", "madry", "trades", "avmixup"}),
        (DEFENSES, {"none"}),
        (ATTACKS, {"pgd", "mim"}),
    ],
)
def test_builtin_registries_hold_the_documented_names(registry: Registry, expected: set[str]) -> None:
    assert expected <= set(registry.names())


class _Base:
    def __init__(self, norm: str | None = None) -> None:
        self.norm = norm


class _Forwarding(_Base):
    def __init__(self, steps: int = 40, **kwargs) -> None:
        super().__init__(**kwargs)
        self.steps = steps


def _forwarding(**params) -> _Forwarding:
    return _Forwarding(**params)


def test_an_unknown_parameter_is_answered_with_the_valid_ones() -> None:
    reg: Registry[object] = Registry("things")
    reg.add("forwarding", _forwarding)
    reg.add("explicit", lambda width=1: width)
    reg.add("open", lambda dataset, **anything: anything)  # where the rest goes cannot be known: nothing refused
    assert reg.create("forwarding", steps=3, norm="l2").steps == 3
    with pytest.raises(UnknownParameterError, match=r"things 'forwarding' has no parameter 'stepz' \(did you mean 'steps'\?\); "
                                                    r"its parameters: norm, steps$"):
        reg.create("forwarding", stepz=3)
    with pytest.raises(TypeError):  # the Python type of the error it replaces, for callers catching that
        reg.create("explicit", height=2)
    assert reg.create("open", dataset="d", epochs=5) == {"epochs": 5}


@pytest.mark.parametrize("registry, name, params", [(ATTACKS, "mim", {"decay": 0.5, "steps": 3, "norm": "l2"}),
                                                    (DEFENSES, "aid", {"epochs": 1}), (RECIPES, "natural", {"dataset": "mnist5k", "epochs": 1})])
def test_every_documented_parameter_is_still_accepted(registry, name, params) -> None:
    assert registry.create(name, **params) is not None


def test_a_misspelt_name_gets_a_suggestion() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown datasets 'mnist' \(did you mean 'mnist5k'\?\)"):
        DATASETS.get("mnist")
