"""NRP mechanics: SSP-trained purifier, dynamic inference, state, flags; never how well it defends.

Tiny purifiers, a few hundred training examples, the naturally trained small
CNN as the feature network unless a test says otherwise.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.cache import ArtifactCache
from bench.data.splits import Split
from bench.errors import InvalidInputError
from bench.hashing import state_digest
from defenses import DEFENSES, Defense, FitContext, Stack
from defenses.nrp import NRPPurifier
from defenses.nrp.config import PRESETS, resolve
from defenses.nrp.dynamic import add_noise
from defenses.nrp.features import feature_network, tap
from defenses.nrp.network import PurifierNet, parameter_count

CPU = torch.device("cpu")
TINY = dict(width=8, blocks=1, critic_width=8, epochs=3, batch_size=32, ssp_steps=2, features="classifier", lr=1e-2)


class Halve(Defense):
    """A toy stage for stacks: halves every pixel."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2


def context(classifier: nn.Module, split: Split, seed: int = 0) -> FitContext:
    return FitContext(classifier, split, "mnist5k", CPU, seed=seed, progress=False)


def fitted(classifier: nn.Module, split: Split, seed: int = 0, **params) -> NRPPurifier:
    defense = NRPPurifier(**{**TINY, **params})
    defense.fit(context(classifier, split, seed))
    return defense


@pytest.fixture(scope="module")
def train_split(mnist) -> Split:
    return mnist.train.head(192)


@pytest.fixture(scope="module")
def nrp(natural_cnn, train_split) -> NRPPurifier:
    return fitted(natural_cnn, train_split)


@pytest.fixture(scope="module")
def x_test(mnist) -> torch.Tensor:
    return mnist.test.x[:16]


def test_registered_with_flags():
    static, dynamic = DEFENSES.create("nrp"), DEFENSES.create("nrp", dynamic=True)
    assert isinstance(static, NRPPurifier) and static.needs_fit
    assert (static.differentiable, static.randomized, static.unrollable) == (True, False, False)
    assert (dynamic.differentiable, dynamic.randomized) == (True, True)
    assert Stack([("nrp", dynamic), ("halve", Halve())]).randomized


def test_purify_shape_range_and_change(nrp, x_test):
    out = nrp.purify(x_test)
    assert out.shape == x_test.shape and out.dtype == x_test.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, x_test)


def test_purify_is_differentiable(nrp, natural_cnn, x_test):
    x = x_test.clone().requires_grad_(True)
    natural_cnn(nrp.purify(x)).logsumexp(1).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_training_lowers_restoration_loss(nrp):
    stats = nrp.fit_stats
    assert stats["batches"] == 3 * 6
    assert stats["last_epoch_restoration_loss"] < stats["first_restoration_loss"]
    assert nrp.fit_seconds is not None and nrp.fit_seconds > 0


def test_fit_is_deterministic_under_its_seed(nrp, natural_cnn, train_split):
    again = fitted(natural_cnn, train_split, seed=0)
    assert state_digest(again.state_dict()) == state_digest(nrp.state_dict())
    other = fitted(natural_cnn, train_split, seed=1)
    assert state_digest(other.state_dict()) != state_digest(nrp.state_dict())


def test_fit_leaves_the_classifier_untouched(natural_cnn, train_split):
    before = state_digest(natural_cnn.state_dict())
    flags = [p.requires_grad for p in natural_cnn.parameters()]
    fitted(natural_cnn, train_split.head(32), epochs=1)
    assert state_digest(natural_cnn.state_dict()) == before
    assert [p.requires_grad for p in natural_cnn.parameters()] == flags and not natural_cnn.training


def test_state_round_trips_through_the_cache(nrp, natural_cnn, train_split, x_test, tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.save("defenses", "nrp-key", nrp.state_dict(), {"fit_seconds": nrp.fit_seconds})
    assert set(nrp.state_dict()) and all(k.startswith("purifier.") for k in nrp.state_dict())
    fresh = NRPPurifier(**TINY)
    fresh.build(context(natural_cnn, train_split))
    assert not torch.equal(fresh.purify(x_test), nrp.purify(x_test))  # untrained before loading
    fresh.load_state_dict(cache.load("defenses", "nrp-key").tensors)
    assert torch.equal(fresh.purify(x_test), nrp.purify(x_test))


def test_dynamic_inference_is_random_but_seeded(nrp, natural_cnn, train_split, x_test):
    dynamic = NRPPurifier(**TINY, dynamic=True)
    dynamic.build(context(natural_cnn, train_split))
    dynamic.load_state_dict(nrp.state_dict())
    outputs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        outputs.append(dynamic.purify(x_test))
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])
    assert not torch.equal(outputs[0], nrp.purify(x_test))
    assert outputs[0].min() >= 0 and outputs[0].max() <= 1


def test_dynamic_noise_stays_in_its_ball(x_test):
    noisy = add_noise(x_test, std=0.5, eps=0.1)
    assert (noisy - x_test).abs().max() <= 0.1 + 1e-6 and noisy.min() >= 0 and noisy.max() <= 1
    assert not torch.equal(noisy, x_test)


def test_stacks_with_other_stages(nrp, x_test):
    stack = Stack([("nrp", nrp), ("halve", Halve())])
    assert torch.equal(stack.purify(x_test), nrp.purify(x_test) / 2)
    assert stack.differentiable and not stack.randomized


def test_natural_feature_network_is_trained_apart_from_the_classifier(natural_cnn, train_split):
    cfg = resolve("mnist5k", {"features": "natural", "feature_epochs": 1})
    net = feature_network(cfg, natural_cnn, "mnist5k", train_split.head(64), seed=3, device=CPU, progress=False)
    assert net is not natural_cnn and not net.training
    assert not any(p.requires_grad for p in net.parameters())
    assert tap(net, train_split.x[:2], cfg.feature_layer).shape[0] == 2
    cfg_c = resolve("mnist5k", {"features": "classifier"})
    assert feature_network(cfg_c, natural_cnn, "mnist5k", train_split, seed=3, device=CPU, progress=False) is natural_cnn


def test_fit_with_a_natural_feature_network(natural_cnn, train_split, x_test):
    defense = fitted(natural_cnn, train_split.head(64), features="natural", feature_epochs=1, epochs=1)
    assert defense.purify(x_test).shape == x_test.shape


def test_parameter_counts_stated_in_the_docs():
    mnist = resolve("mnist5k", {})
    assert parameter_count(PurifierNet(1, mnist.width, mnist.blocks)) == 74_593
    wide = PRESETS["*"]
    assert parameter_count(PurifierNet(3, wide["width"], wide["blocks"])) == 1_185_219


@pytest.mark.parametrize("params", [{"width": 0}, {"features": "vgg"}, {"features": "natural", "feature_epochs": 0},
                                    {"dynamic": "yes"}, {"eps": -0.1}, {"lr": 0}])
def test_bad_parameters_fail_at_construction(params):
    with pytest.raises(InvalidInputError):
        NRPPurifier(**params)


def test_dynamic_variants_share_one_fitted_state():
    dynamic, static = NRPPurifier(dynamic=True, noise_std=0.1), NRPPurifier()
    assert dynamic.fit_identity() == static.fit_identity() and dynamic.identity() != static.identity()
    assert dynamic.randomized and not static.randomized
