"""Per-dataset, per-attack presets: the paper's appendix A.4 with Foolbox 3.3.4's defaults, ours for mnist5k."""

from __future__ import annotations

import inspect

import foolbox as fb
import pytest
import torch

from attacks import ATTACKS, attack_preset
from attacks.cw import CarliniWagnerL2
from attacks.deepfool import DeepFool
from attacks.iterative import MIM
from bench.errors import InvalidInputError

PAPER = [("svhn", 12 / 255, 2 / 255), ("cifar10", 8 / 255, 1 / 255), ("cifar100", 8 / 255, 1 / 255),
         ("tinyimagenet", 8 / 255, 1 / 255), ("tinyimagenet:/data/tiny", 8 / 255, 1 / 255)]


@pytest.mark.parametrize("dataset, eps, step", PAPER)
def test_paper_presets_per_attack(dataset, eps, step):
    assert attack_preset(dataset, attack="pgd") == {"eps": eps, "step_size": step, "steps": 40}
    assert attack_preset(dataset, attack="mim") == {"eps": eps, "step_size": step, "steps": 10, "accumulate": "sign"}
    assert attack_preset(dataset, attack="deepfool") == {"eps": eps}
    assert attack_preset(dataset, "l2", attack="cw") == {"eps": eps}


def test_mnist5k_presets_are_the_madry_protocol():
    assert attack_preset("mnist5k", attack="pgd") == {"eps": 0.3, "step_size": 0.01, "steps": 40}
    assert attack_preset("mnist5k", attack="mim") == {"eps": 0.3, "step_size": 0.01, "steps": 40}
    assert attack_preset("mnist5k", "l2", attack="cw") == {"eps": 2.0}


def test_attacks_without_a_preset_take_the_eps_and_the_iterative_ones_pgds_steps():
    assert attack_preset("cifar10", attack="square") == {"eps": 8 / 255}
    assert attack_preset("cifar10", attack="my_plugin", iterative=True) == attack_preset("cifar10", attack="pgd")


@pytest.mark.parametrize("dataset", ["npz:/tmp/a.npz", "imagefolder:/tmp/images"])
def test_local_sources_fall_back_to_the_default(dataset):
    assert attack_preset(dataset) == attack_preset("cifar10")


def test_unknown_norm():
    with pytest.raises(InvalidInputError, match="unknown norm"):
        attack_preset("svhn", "l1")


def _defaults(cls) -> dict:
    return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("ours, theirs", [(CarliniWagnerL2, fb.attacks.L2CarliniWagnerAttack),
                                          (DeepFool, fb.attacks.LinfDeepFoolAttack)])
def test_foolbox_wrappers_default_to_the_installed_foolbox_defaults(ours, theirs):
    mine, foolbox = _defaults(ours), _defaults(theirs)
    shared = mine.keys() & foolbox.keys()
    assert shared == foolbox.keys(), f"parameters of {theirs.__name__} the wrapper does not take: {foolbox.keys() - shared}"
    assert {k: mine[k] for k in shared} == foolbox


def _with_preset(attack: str):
    preset = attack_preset("cifar10", attack=attack)
    return ATTACKS.create(attack, **{k: v for k, v in preset.items() if k != "eps"})


def test_mim_paper_preset_matches_foolbox_mim_defaults():
    """The preset says 10 steps, momentum 1.0, no random start: what Foolbox's MI-FGSM does when given only a step."""
    foolbox = _defaults(fb.attacks.LinfMomentumIterativeFastGradientMethod)
    mim = _with_preset("mim")
    assert (mim.steps, mim.momentum, mim.random_start) == (foolbox["steps"], foolbox["momentum"], foolbox["random_start"])


def test_pgd_paper_preset_matches_foolbox_pgd_defaults():
    """Table 11's 40 steps are also Foolbox's LinfPGD default, with its random start."""
    foolbox = _defaults(fb.attacks.LinfPGD)
    pgd = _with_preset("pgd")
    assert (pgd.steps, pgd.random_start) == (foolbox["steps"], foolbox["random_start"]) == (40, True)


def test_mim_sign_accumulation_is_foolbox_mim(natural_cnn, mnist):
    """Our MIM with the paper's preset gives Foolbox 3.3.4's MI-FGSM iterates; Dong et al.'s L1 accumulation does not."""
    x, y = mnist.test.x[:64], mnist.test.y[:64]
    eps, step = 0.1, 0.01
    _, theirs, _ = fb.attacks.LinfMomentumIterativeFastGradientMethod(abs_stepsize=step)(
        fb.PyTorchModel(natural_cnn, bounds=(0, 1)), x, y, epsilons=eps)
    for accumulate, same in (("sign", True), ("l1", False)):
        ours = MIM(steps=10, step_size=step, accumulate=accumulate)(natural_cnn, x, y, eps).x_adv
        assert torch.allclose(ours, theirs, atol=1e-6) is same, accumulate


def test_unknown_accumulation_is_refused():
    with pytest.raises(InvalidInputError, match="use one of: l1, sign"):
        MIM(accumulate="l2")
