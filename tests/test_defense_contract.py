"""``check_defense``: every registered defense keeps the contract, and each broken promise is caught."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from defenses import DEFENSES, Defense, FitContext
from defenses.testing import ContractReport, DefenseContractError, check_defense

#: Tiny configurations (the presets shrunk through constructor arguments) and a variant that must change the identity.
TINY = {
    "none": ({}, None),
    "aid": (dict(taps="layer1,layer3", width=8, branch_depth=1, head_depth=1, train_steps=1, steps=2, epochs=1,
                 batch_size=32), {"steps": 3}),
    "pixeldefend": (dict(hidden=4, blocks=1, epochs=1, batch_size=32), {"eps": 0.1}),
    "defensegan": (dict(latent=4, width=4, train_steps=2, batch_size=32, restarts=1, search_steps=2), {"restarts": 2}),
    "nrp": (dict(width=4, blocks=1, critic_width=4, epochs=1, batch_size=32, ssp_steps=1, features="classifier"),
            {"dynamic": True}),
    "dir": (dict(width=4, pretrain_epochs=1, epochs=1, batch_size=32, pretrain_steps=1, attack_steps=1, rep_steps=1),
            {"mask_seed": 0}),
}


@pytest.fixture(scope="module")
def tiny(mnist) -> dict:
    return {"train": mnist.train.head(48), "x": mnist.test.head(6).x}


def test_every_registered_defense_has_a_tiny_configuration():
    assert set(DEFENSES.names()) == set(TINY), "add the new defense to TINY"


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_registered_defense_keeps_the_contract(name, natural_cnn, tiny):
    params, variant = TINY[name]
    report = check_defense(type(DEFENSES.create(name)), params=params, variant=variant, classifier=natural_cnn, **tiny)
    assert isinstance(report, ContractReport) and report.gradients.n == 6


class Smooth(Defense):
    """A 3x3 mean filter with a learned mean image it pulls toward: keeps every promise."""

    mean: torch.Tensor

    def __init__(self, strength: float = 0.5) -> None:
        super().__init__()
        self.strength = strength

    def build(self, ctx: FitContext) -> None:
        self.net = nn.Conv2d(ctx.train.x.shape[1], ctx.train.x.shape[1], 1)

    def fit(self, ctx: FitContext) -> None:
        self.build(ctx)
        self.mean = ctx.train.x.mean(0)
        with torch.no_grad():
            self.net.weight.fill_(1.0)
            self.net.bias.zero_()

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        x = self.net(x + self.strength * (self.mean - x))
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False).clamp(0, 1)


class NetOnlyInFit(Smooth):
    def build(self, ctx: FitContext) -> None:
        pass

    def fit(self, ctx: FitContext) -> None:
        Smooth.build(self, ctx)
        super().fit(ctx)


class PlainAttributeInFit(Smooth):
    def fit(self, ctx: FitContext) -> None:
        super().fit(ctx)
        self.offset = 0.1  # a plain number set in fit: not state, lost on reload

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return (super().purify(x) * (1 - getattr(self, "offset", 0.0))).clamp(0, 1)


class UndeclaredTensor(Smooth):
    def fit(self, ctx: FitContext) -> None:
        super().fit(ctx)
        self.scale = torch.ones(1)  # made in fit, not annotated on the class


class Shrinks(Smooth):
    def purify(self, x):
        return super().purify(x)[..., 1:, 1:]


class Doubles(Smooth):
    def purify(self, x):
        return super().purify(x).double()


class LeavesTheBox(Smooth):
    def purify(self, x):
        return super().purify(x) * 2 - 0.5


class HidesItsParameter(Smooth):
    IMPLEMENTATION_PARAMS = frozenset({"strength"})  # wrong: strength changes the output


class UndeclaredNoise(Smooth):
    def purify(self, x):
        return (super().purify(x) + 0.05 * torch.randn_like(x)).clamp(0, 1)


class DeclaredNoiseWithout(Smooth):
    randomized = True


class UndeclaredQuantiser(Smooth):
    def purify(self, x):
        return torch.round(super().purify(x) * 4) / 4


class NeedlesslyNonDifferentiable(Smooth):
    differentiable = False


class BatchMean(Smooth):
    def purify(self, x):
        return (super().purify(x) - 0.5 * (x - x.mean(0, keepdim=True))).clamp(0, 1)


class DeclaredBatchMean(BatchMean):
    batch_dependent = True


class DeclaredBatchWithout(Smooth):
    batch_dependent = True


class BrokenUnrolling(UndeclaredQuantiser):
    differentiable = False
    unrollable = True

    def unrolled_purify(self, x):
        return self.purify(x)


class ExactUnrolling(UndeclaredQuantiser):
    """Quantised values forward, the blur's derivative backward: an exact unrolling."""

    differentiable = False
    unrollable = True
    unrolled_exact = True

    def unrolled_purify(self, x):
        blurred = Smooth.purify(self, x)
        return self.purify(x).detach() + (blurred - blurred.detach())


class ClaimsAnExactUnrolling(ExactUnrolling):
    def unrolled_purify(self, x):
        return Smooth.purify(self, x)  # the blur's values, not the quantised ones


class TrainsTheClassifier(Smooth):
    def fit(self, ctx: FitContext) -> None:
        super().fit(ctx)
        with torch.no_grad():
            next(ctx.classifier.parameters()).add_(1e-3)


VIOLATIONS = [
    (NetOnlyInFit, r"cannot load the fitted state.*unexpected keys: net\.bias, net\.weight"),
    (PlainAttributeInFit, "purifies differently"),
    (UndeclaredTensor, r"tensors the class does not declare \(scale\)"),
    (Shrinks, "changed the shape"),
    (Doubles, "changed the dtype"),
    (LeavesTheBox, r"left \[0, 1\]"),
    (UndeclaredNoise, "declare randomized = True"),
    (DeclaredNoiseWithout, "declare randomized = False"),
    (UndeclaredQuantiser, "declare differentiable = False"),
    (NeedlesslyNonDifferentiable, "declare differentiable = True"),
    (BatchMean, "other examples of the batch.*or declare batch_dependent = True"),
    (DeclaredBatchWithout, "declare batch_dependent = False"),
    (BrokenUnrolling, "unrolled_purify gives a zero"),
    (ClaimsAnExactUnrolling, "unrolled_exact = True, but unrolled_purify's values differ from purify's for 100%"),
    (TrainsTheClassifier, "changed the frozen classifier"),
]


def test_a_defense_that_keeps_every_promise_passes(tiny):
    report = check_defense(Smooth, variant={"strength": 0.25}, **tiny)
    assert report.state_keys == ("mean", "net.bias", "net.weight")
    assert not report.randomness.randomized and report.gradients.unavailable == 0 and not report.batch.batch_dependent


def test_a_declared_batch_dependence_passes(tiny):
    assert check_defense(DeclaredBatchMean, **tiny).batch.batch_dependent


def test_an_exact_unrolling_passes(tiny):
    assert check_defense(ExactUnrolling, **tiny).name == "ExactUnrolling"


def test_an_instance_is_checked_as_the_harness_uses_it(tiny):
    assert check_defense(Smooth(0.25), variant={"strength": 0.5}, **tiny).name == "Smooth"


@pytest.mark.parametrize("cls, message", VIOLATIONS, ids=[cls.__name__ for cls, _ in VIOLATIONS])
def test_each_broken_promise_is_caught(cls, message, tiny):
    with pytest.raises(DefenseContractError, match=message) as caught:
        check_defense(cls, **tiny)
    assert str(caught.value).count("\n- ") == 1, str(caught.value)  # that promise, and only that one


def test_a_variant_that_does_not_change_the_identity_is_caught(tiny):
    with pytest.raises(DefenseContractError, match=r"arguments \{'strength': 0.25\} do not change identity"):
        check_defense(HidesItsParameter, variant={"strength": 0.25}, **tiny)


def test_with_no_data_given_it_fits_on_a_tiny_mnist5k_split():
    assert check_defense(Smooth, n_train=16, n_test=4).gradients.n == 4
