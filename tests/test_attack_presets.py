"""Per-dataset attack presets: the paper's appendix A.4, ours for mnist5k, a default for local sources."""

from __future__ import annotations

import pytest

from attacks import attack_preset
from bench.errors import InvalidInputError


@pytest.mark.parametrize("dataset, eps, step", [
    ("svhn", 12 / 255, 2 / 255),
    ("cifar10", 8 / 255, 1 / 255),
    ("cifar100", 8 / 255, 1 / 255),
    ("tinyimagenet", 8 / 255, 1 / 255),
    ("tinyimagenet:/data/tiny", 8 / 255, 1 / 255),
    ("mnist5k", 0.3, 0.01),
])
def test_paper_and_mnist_presets(dataset, eps, step):
    assert attack_preset(dataset) == {"eps": eps, "step_size": step, "steps": 40}


@pytest.mark.parametrize("dataset", ["npz:/tmp/a.npz", "imagefolder:/tmp/images"])
def test_local_sources_fall_back_to_the_default(dataset):
    assert attack_preset(dataset) == attack_preset("cifar10")


def test_l2_presets():
    assert attack_preset("mnist5k", "l2") == {"eps": 2.0, "step_size": 0.1, "steps": 40}
    assert attack_preset("svhn", "l2") == attack_preset("svhn")


def test_unknown_norm():
    with pytest.raises(InvalidInputError, match="unknown norm"):
        attack_preset("svhn", "l1")
