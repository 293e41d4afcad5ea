"""Registries: registration, lookup errors, duplicates, and pattern listing."""

from __future__ import annotations

import pytest

from attacks import ATTACKS
from bench.data import DATASETS
from bench.errors import UnknownNameError
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
