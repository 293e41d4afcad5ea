"""The defense life cycle: parameters from the constructor's signature, state of every tensor and module, strict loads."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.data import Split
from bench.errors import UserError
from defenses import Defense, FitContext
from defenses.base import declared_tensors


class Blur(Defense):
    """A mean filter, written the ordinary way: ``super().__init__()`` without arguments."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.k = k

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.k, stride=1, padding=self.k // 2, count_include_pad=False)


class NoSuper(Defense):
    """Never calls ``super().__init__``."""

    def __init__(self, scale: float = 0.5, *, name: str = "x") -> None:
        self.scale = scale

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class PassesOther(Defense):
    """Passes something else to ``super().__init__``: the signature wins."""

    def __init__(self, k: int = 3) -> None:
        super().__init__(unrelated=1)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x


class MeanPull(Defense):
    """Learns a mean image (a tensor made in ``fit``) and a 1x1 convolution (a module made in ``build``)."""

    mean: torch.Tensor

    def __init__(self, strength: float = 0.5) -> None:
        super().__init__()
        self.strength = strength

    def build(self, ctx: FitContext) -> None:
        channels = ctx.train.x.shape[1]
        self.net = nn.Conv2d(channels, channels, 1)

    def fit(self, ctx: FitContext) -> None:
        self.build(ctx)
        self.mean = ctx.train.x.mean(0)
        with torch.no_grad():
            self.net.weight.fill_(0.9)
            self.net.bias.fill_(0.01)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        pulled = x + self.strength * (self.mean - x)
        return self.net(pulled).clamp(0, 1)


class NetInFit(MeanPull):
    """Makes its network in ``fit`` only: a fresh object has nothing for the network's state to load into."""

    def build(self, ctx: FitContext) -> None:
        pass

    def fit(self, ctx: FitContext) -> None:
        MeanPull.build(self, ctx)
        super().fit(ctx)


@pytest.fixture
def ctx() -> FitContext:
    x = torch.rand(8, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    return FitContext(classifier=nn.Identity(), train=Split(x, torch.zeros(8, dtype=torch.long)), dataset="toy",
                      device=torch.device("cpu"), progress=False)


def fitted_and_fresh(ctx: FitContext, cls: type[MeanPull] = MeanPull) -> tuple[MeanPull, MeanPull]:
    """A fitted object and a fresh one built for ``ctx``, as the harness makes them before loading."""
    fitted, fresh = cls(), cls()
    fitted.fit(ctx)
    fresh.build(ctx)
    return fitted, fresh


def test_parameters_come_from_the_signature_with_defaults():
    assert Blur().params == {"k": 3} and Blur(5).params == {"k": 5} and Blur(k=5).params == {"k": 5}
    assert Blur(3).identity() != Blur(5).identity()
    assert Blur(3).identity() == Blur().identity()


def test_a_subclass_that_never_calls_super_init_still_has_its_parameters():
    defense = NoSuper(0.25)
    assert defense.params == {"scale": 0.25, "name": "x"}
    assert defense.identity()["params"] == {"scale": 0.25, "name": "x"} and defense.state_dict() == {}
    assert not defense.needs_fit


def test_what_a_subclass_passes_to_super_init_does_not_replace_the_signature():
    defense = PassesOther(4)
    assert defense.params == {"k": 4} and not hasattr(defense, "unrelated")  # Defense.__init__ ignores its arguments


def test_a_defense_without_its_own_init_takes_keywords():
    class Plain(Defense):
        def purify(self, x):
            return x

    assert Plain().params == {} and Plain(a=1).params == {"a": 1}


def test_bad_arguments_raise_the_signature_error():
    with pytest.raises(TypeError, match="unexpected keyword"):
        Blur(size=3)


def test_copies_and_pickles_keep_the_parameters():
    for clone in (copy.deepcopy(Blur(5)), pickle.loads(pickle.dumps(Blur(5)))):
        assert clone.params == {"k": 5} and clone.k == 5


def test_state_holds_tensors_made_in_fit_and_modules_made_in_build(ctx):
    fitted, fresh = fitted_and_fresh(ctx)
    state = fitted.state_dict()
    assert sorted(state) == ["mean", "net.bias", "net.weight"]
    fresh.load_state_dict(state)
    x = torch.rand(3, 1, 6, 6)
    assert torch.equal(fresh.purify(x), fitted.purify(x))


def test_a_missing_key_is_named(ctx):
    fitted, fresh = fitted_and_fresh(ctx)
    state = {k: v for k, v in fitted.state_dict().items() if k != "net.bias"}
    with pytest.raises(UserError, match=r"missing keys: net\.bias; unexpected keys: none"):
        fresh.load_state_dict(state)


def test_a_missing_tensor_made_in_fit_is_named_because_the_class_declares_it(ctx):
    fitted, fresh = fitted_and_fresh(ctx)
    with pytest.raises(UserError, match=r"missing keys: mean;"):
        fresh.load_state_dict({k: v for k, v in fitted.state_dict().items() if k != "mean"})


def test_declared_tensors_are_read_from_annotations_optional_or_not():
    class Declares(Defense):
        a: torch.Tensor
        b: nn.Parameter | None
        c: "torch.Tensor | None"
        d: int
        e: nn.Module

    assert declared_tensors(Declares) == {"a", "b", "c"}


def test_an_unexpected_key_is_named_and_nothing_is_loaded(ctx):
    fitted, fresh = fitted_and_fresh(ctx)
    before = copy.deepcopy(fresh.net.state_dict())
    with pytest.raises(UserError, match=r"unexpected keys: other\.weight"):
        fresh.load_state_dict({**fitted.state_dict(), "other.weight": torch.zeros(1)})
    assert not hasattr(fresh, "mean") and all(torch.equal(before[k], v) for k, v in fresh.net.state_dict().items())


def test_a_state_key_that_names_a_plain_attribute_is_unexpected(ctx):
    fresh = MeanPull()
    fresh.build(ctx)
    state = {**{f"net.{k}": v for k, v in fresh.net.state_dict().items()}, "strength": torch.ones(1)}
    with pytest.raises(UserError, match="unexpected keys: strength"):
        fresh.load_state_dict(state)


def test_a_network_made_only_in_fit_is_named_with_the_fix(ctx):
    fitted, fresh = fitted_and_fresh(ctx, NetInFit)
    with pytest.raises(UserError, match=r"unexpected keys: net\.bias, net\.weight\).*build\(ctx\)"):
        fresh.load_state_dict(fitted.state_dict())


def test_a_state_of_another_shape_names_the_module(ctx):
    fitted = MeanPull()
    fitted.fit(ctx)
    colour = FitContext(nn.Identity(), Split(torch.rand(2, 3, 6, 6), torch.zeros(2, dtype=torch.long)), "toy",
                        torch.device("cpu"))
    fresh = MeanPull()
    fresh.build(colour)
    with pytest.raises(UserError, match="state of 'net' does not fit"):
        fresh.load_state_dict(fitted.state_dict())


def test_the_classifier_is_not_state_and_parameters_stay_parameters(ctx):
    class Scaled(Defense):
        def __init__(self) -> None:
            self.classifier = nn.Linear(2, 2)
            self.scale = nn.Parameter(torch.ones(1))

        def purify(self, x):
            return x * self.scale

    defense = Scaled()
    assert list(defense.state_dict()) == ["scale"]
    defense.load_state_dict({"scale": torch.full((1,), 0.5)})
    defense.to(torch.device("cpu"))
    assert isinstance(defense.scale, nn.Parameter) and float(defense.scale.detach()) == 0.5


class KeepsClassifier(Defense):
    """Keeps the frozen classifier under a name of its own, inside a module of its own, and a copy of it to tune."""

    def build(self, ctx: FitContext) -> None:
        self.model = ctx.classifier
        self.pipeline = nn.Sequential(nn.Conv2d(1, 1, 1), ctx.classifier)
        self.tuned = copy.deepcopy(ctx.classifier)

    def fit(self, ctx: FitContext) -> None:
        self.build(ctx)
        with torch.no_grad():
            self.pipeline[0].weight.fill_(0.5)
            self.tuned[1].bias.fill_(1.0)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return self.pipeline[0](x).clamp(0, 1)


def test_the_frozen_classifier_is_not_state_under_any_name_but_a_copy_of_it_is(ctx):
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    ctx = FitContext(classifier, ctx.train, ctx.dataset, ctx.device, progress=False)
    fitted, fresh = KeepsClassifier(), KeepsClassifier()
    fitted.fit(ctx)
    assert sorted(fitted.state_dict()) == ["pipeline.0.bias", "pipeline.0.weight", "tuned.1.bias", "tuned.1.weight"]
    fresh.build(ctx)
    fresh.load_state_dict(fitted.state_dict())
    x = ctx.train.x[:2]
    assert torch.equal(fresh.purify(x), fitted.purify(x)) and torch.equal(fresh.tuned[1].bias, torch.ones(2))
    assert fresh.model is classifier and fresh.pipeline[1] is classifier
