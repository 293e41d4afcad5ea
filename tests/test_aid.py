"""AID-Purifier mechanics: Algorithms 1 and 2, state, the unrolled gradient, the classifier left untouched.

These tests check how the defense works, never how well: tiny discriminators,
a few hundred training examples, a naturally trained small CNN.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attacks import ATTACKS
from bench.data.splits import Split
from bench.errors import InvalidInputError, UserError
from bench.models.frozen import frozen
from bench.models.taps import TappedClassifier
from defenses import DEFENSES, FitContext, Stack
from defenses.aid import AIDPurifier
from defenses.aid.augment import augment
from defenses.aid.config import Augmentation
from defenses.aid.presets import PRESETS, resolve
from defenses.aid.training import discriminator_loss, training_attack, training_batch
from defenses.timing import time_purification

CPU = torch.device("cpu")
# A tiny D; lr above the paper's 0.01 so that the 16 updates of a 256-image fit move it measurably.
TINY = dict(taps="layer1,layer3", width=32, branch_depth=1, head_depth=1, train_steps=3, steps=3, eps=0.3, step=0.1,
            epochs=2, batch_size=32, lr=0.05)


def context(classifier: nn.Module, split: Split, seed: int = 0, dataset: str = "mnist5k") -> FitContext:
    return FitContext(classifier, split, dataset, CPU, seed=seed, progress=False)


def fitted(classifier: nn.Module, split: Split, seed: int = 0, **params) -> AIDPurifier:
    defense = AIDPurifier(**{**TINY, **params})
    defense.fit(context(classifier, split, seed))
    return defense


@pytest.fixture(scope="module")
def train_split(mnist) -> Split:
    return mnist.train.head(256)


@pytest.fixture(scope="module")
def aid(natural_cnn, train_split) -> AIDPurifier:
    return fitted(natural_cnn, train_split)


@pytest.fixture(scope="module")
def x_test(mnist) -> torch.Tensor:
    return mnist.test.x[:16]


def test_registered_with_flags():
    defense = DEFENSES.create("aid")
    assert isinstance(defense, AIDPurifier)
    assert (defense.differentiable, defense.unrollable, defense.randomized) == (False, True, False)
    assert defense.needs_fit


def test_purify_shape_range_and_eps_ball(aid, x_test):
    out = aid.purify(x_test)
    assert out.shape == x_test.shape and out.dtype == x_test.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert (out - x_test).abs().max() <= aid.config.eps + 1e-6
    assert not torch.equal(out, x_test)  # the steps move the input


def test_purify_under_no_grad_and_inference_mode(aid, x_test):
    expected = aid.purify(x_test)
    with torch.no_grad():
        assert torch.equal(aid.purify(x_test), expected)
    with torch.inference_mode():
        assert torch.equal(aid.purify(x_test.clone()), expected)


def test_purify_is_batch_independent(aid, x_test):
    whole = aid.purify(x_test)
    parts = torch.cat([aid.purify(x_test[:5]), aid.purify(x_test[5:])])
    # Batched kernels may round differently and flip the sign of a near-zero gradient: allow a few pixels.
    assert (parts - whole).abs().gt(1e-5).float().mean() < 1e-3


def test_fit_is_deterministic_under_a_seed(natural_cnn, train_split, x_test):
    first, again = (fitted(natural_cnn, train_split.head(64), epochs=1) for _ in range(2))
    state, other = first.state_dict(), again.state_dict()
    assert state.keys() == other.keys() and all(torch.equal(state[k], other[k]) for k in state)
    assert torch.equal(again.purify(x_test), first.purify(x_test))
    reseeded = fitted(natural_cnn, train_split.head(64), epochs=1, seed=1).state_dict()
    assert not all(torch.equal(state[k], reseeded[k]) for k in state)


def test_training_lowers_the_bce_on_held_out_mixed_examples(natural_cnn, train_split, mnist, aid):
    untrained = AIDPurifier(**TINY)
    untrained.build(context(natural_cnn, train_split))  # the initial D of fit(): same seed, same init
    held = mnist.test.head(128)
    cfg = aid.config
    with frozen(natural_cnn):
        x_hat, t_hat = training_batch(natural_cnn, training_attack(cfg), held.x, held.y, cfg, torch.Generator().manual_seed(7))
        with torch.no_grad():
            before = discriminator_loss(untrained.discriminator, natural_cnn, cfg, x_hat, t_hat, torch.Generator())
            after = discriminator_loss(aid.discriminator, natural_cnn, cfg, x_hat, t_hat, torch.Generator())
    assert after < before


def test_classifier_is_unchanged(natural_cnn, train_split, x_test):
    weights = {k: v.clone() for k, v in natural_cnn.state_dict().items()}
    flags = [p.requires_grad for p in natural_cnn.parameters()]
    defense = fitted(natural_cnn, train_split.head(64), epochs=1)
    defense.purify(x_test)
    defense.unrolled_purify(x_test.clone().requires_grad_(True)).sum().backward()
    defense.aux_loss(x_test)
    assert all(torch.equal(weights[k], v) for k, v in natural_cnn.state_dict().items())
    assert [p.requires_grad for p in natural_cnn.parameters()] == flags
    assert not natural_cnn.training
    assert not any(k.startswith("classifier") for k in defense.state_dict())


def test_state_dict_round_trip(natural_cnn, train_split, aid, x_test):
    fresh = AIDPurifier(**TINY)
    with pytest.raises(UserError, match="build"):
        fresh.load_state_dict(aid.state_dict())
    fresh.build(context(natural_cnn, train_split, seed=5))
    fresh.load_state_dict(aid.state_dict())
    assert torch.equal(fresh.purify(x_test), aid.purify(x_test))


def test_aux_loss_is_per_example_and_lower_on_clean_than_on_pgd(aid, natural_cnn, mnist):
    x, y = mnist.test.x[:64], mnist.test.y[:64]
    x_adv = ATTACKS.create("pgd", steps=5, step_size=0.1)(natural_cnn, x, y, 0.3, generator=torch.Generator().manual_seed(0)).x_adv
    clean, adv = aid.aux_loss(x), aid.aux_loss(x_adv)
    assert clean.shape == (64,) and (clean >= 0).all()
    assert clean.mean() < adv.mean()


def test_aux_loss_is_differentiable_in_x(aid, x_test):
    x = x_test.clone().requires_grad_(True)
    aid.aux_loss(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("box_gradient", ["exact", "ste"])
def test_unrolled_ste_forward_equals_purify(natural_cnn, train_split, aid, x_test, box_gradient):
    other = AIDPurifier(**TINY, box_gradient=box_gradient)  # surrogate: "ste", the default
    other.build(context(natural_cnn, train_split))
    other.load_state_dict(aid.state_dict())
    assert torch.equal(other.unrolled_purify(x_test.clone().requires_grad_(True)).detach(), aid.purify(x_test))


def test_only_the_straight_through_sign_is_exact(natural_cnn, train_split, aid, x_test):
    """``unrolled_exact`` lets adaptive attacks skip ``purify``; the tanh surrogate's values are not Algorithm 2's."""
    assert aid.unrolled_exact and not AIDPurifier().unrolled_exact  # unbuilt: no configuration to vouch for
    smooth = AIDPurifier(**TINY, surrogate="tanh")
    smooth.build(context(natural_cnn, train_split))
    smooth.load_state_dict(aid.state_dict())
    assert not smooth.unrolled_exact
    assert not torch.equal(smooth.unrolled_purify(x_test.clone().requires_grad_(True)).detach(), aid.purify(x_test))


def test_box_gradient_on_a_piecewise_linear_network(natural_cnn, train_split, aid, x_test):
    """With ReLU and max-pooling the second-order path is zero: only the clips shape d x_pur / d x."""
    grads = {}
    for box_gradient in ("exact", "ste"):
        other = AIDPurifier(**TINY, box_gradient=box_gradient)
        other.build(context(natural_cnn, train_split))
        other.load_state_dict(aid.state_dict())
        x = x_test.clone().requires_grad_(True)
        (grads[box_gradient],) = torch.autograd.grad(other.unrolled_purify(x).sum(), x)
    assert torch.equal(grads["ste"], torch.ones_like(x_test))
    assert set(grads["exact"].unique().tolist()) == {0.0, 1.0}  # zero exactly where the [0, 1] clip held a pixel


def test_smooth_relu_curvature_opens_the_second_order_path(aid, x_test):
    """On the same ReLU network, a smooth ReLU curvature makes d x_pur / d x differ from the clips' identity,
    while the unrolled forward pass stays the deployed purification bit for bit."""
    from attacks.curvature import smooth_relu_curvature

    x = x_test.clone().requires_grad_(True)
    with smooth_relu_curvature(10.0):
        x_pur = aid.unrolled_purify(x)
    (grad,) = torch.autograd.grad(x_pur.sum(), x)
    assert torch.equal(x_pur.detach(), aid.purify(x_test))
    assert torch.isfinite(grad).all() and not torch.equal(grad, torch.ones_like(x_test))


def test_unrolled_gradient_reaches_the_input(aid, x_test):
    x = x_test.clone().requires_grad_(True)
    aid.unrolled_purify(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


class SmoothNet(TappedClassifier):
    """A tiny classifier with smooth activations, so second-order terms through C are not zero."""

    tap_points = {"layer1": "act1", "layer2": "act2"}

    def __init__(self) -> None:
        super().__init__([0.5], [0.25])
        self.conv1, self.act1 = nn.Conv2d(1, 3, 3, padding=1), nn.Softplus()
        self.fc1, self.act2 = nn.Linear(3 * 6 * 6, 5), nn.Tanh()
        self.fc2 = nn.Linear(5, 3)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act2(self.fc1(self.act1(self.conv1(x)).flatten(1))))


@pytest.mark.parametrize("eps", [1.0, 0.05])  # without and with the eps-clip active
def test_unrolled_gradient_matches_finite_differences(eps):
    torch.manual_seed(0)
    net = SmoothNet().double().eval()
    split = Split(torch.rand(4, 1, 6, 6), torch.zeros(4, dtype=torch.long))
    defense = AIDPurifier(taps="layer1,layer2", width=8, branch_depth=1, head_depth=1, eps=eps, step=0.04, steps=3,
                          surrogate="tanh", temperature=0.5, box_gradient="exact", train_eps=0.1, train_step=0.01,
                          gamma=1.0)
    defense.build(context(net, split, dataset="no-preset"))  # build only: the train_* values are never used
    x = (0.2 + 0.6 * torch.rand(2, 1, 6, 6, dtype=torch.float64)).requires_grad_(True)
    weights = torch.randn_like(x)
    f = lambda z: (weights * defense.unrolled_purify(z)).sum()  # noqa: E731
    (grad,) = torch.autograd.grad(f(x), x)
    v = torch.randn_like(x)
    h = 1e-6
    with torch.no_grad():
        numeric = (f(x + h * v) - f(x - h * v)) / (2 * h)
    analytic = (grad * v).sum()
    torch.testing.assert_close(analytic, numeric, rtol=1e-5, atol=1e-8)
    # The second-order path matters here: inside [0, 1] the clips alone would pass ``weights`` through unchanged.
    assert not torch.allclose(grad, weights, atol=1e-3)


@pytest.mark.parametrize("augmentation", list(Augmentation))
def test_augment_targets_and_interpolation(augmentation):
    g = torch.Generator().manual_seed(0)
    x = torch.full((200, 1, 2, 2), 0.4)
    x_adv = x + 0.1
    x_hat, t_hat = augment(x, x_adv, augmentation, 2.0, g)
    vertex = 0.6 if augmentation in (Augmentation.AV, Augmentation.AVMIXUP) else 0.5
    u = 1 - t_hat
    torch.testing.assert_close(x_hat, (u * 0.4 + (1 - u) * vertex).view(-1, 1, 1, 1).expand_as(x))
    hard = augmentation in (Augmentation.NONE, Augmentation.AV)
    assert bool(((t_hat == 0) | (t_hat == 1)).all()) == hard
    assert 0.3 < t_hat.mean() < 0.7


def test_adversarial_vertex_is_clipped_to_pixels():
    x, x_adv = torch.full((4, 1, 2, 2), 0.9), torch.ones(4, 1, 2, 2)
    x_hat, _ = augment(x, x_adv, Augmentation.AV, 3.0, torch.Generator().manual_seed(0))
    assert x_hat.max() <= 1.0


@pytest.mark.parametrize("params", [
    dict(augmentation="none"), dict(augmentation="av"), dict(augmentation="mixup"),
    dict(targets="contrastive"), dict(taps="layer3"), dict(taps="layer2,layer3"),
])
def test_ablation_switches_fit_and_purify(natural_cnn, train_split, x_test, params):
    defense = fitted(natural_cnn, train_split.head(64), epochs=1, **params)
    out = defense.purify(x_test[:4])
    assert out.shape == (4, 1, 28, 28) and (out - x_test[:4]).abs().max() <= defense.config.eps + 1e-6


def test_unregistered_training_attack_names_the_fix(natural_cnn, train_split):
    with pytest.raises(UserError, match="train_attack='pgd'"):
        fitted(natural_cnn, train_split.head(32), train_attack="no_such_attack")


@pytest.mark.parametrize("params", [dict(augmentation="cutmix"), dict(steps=-1), dict(eps=-0.1), dict(width=0),
                                    dict(taps=""), dict(targets="contrastive", taps="layer3"), dict(surrogate="relu")])
def test_bad_parameters_fail_at_construction(params):
    with pytest.raises(InvalidInputError):
        AIDPurifier(**params)


def test_paper_presets_follow_the_readme():
    cfg = resolve("svhn", {})
    assert (cfg.taps, cfg.train_eps, cfg.train_step, cfg.eps, cfg.step, cfg.steps, cfg.gamma) == (
        ("layer1", "layer4"), 0.047, 0.008, 0.047, 0.012, 10, 2.0)
    assert (cfg.branch_depth, cfg.head_depth, cfg.lr, cfg.weight_decay, cfg.momentum, cfg.epochs) == (2, 2, 0.01, 2e-4, 0.9, 1)
    assert resolve("cifar100", {"steps": 5}).steps == 5
    assert resolve("tinyimagenet", {}).taps == ("layer2", "layer3")
    assert {"svhn", "cifar10", "cifar100", "tinyimagenet", "mnist5k"} <= set(PRESETS)


def test_dataset_without_preset_names_the_missing_parameters():
    with pytest.raises(InvalidInputError, match="train_eps"):
        resolve("my_dataset", {"taps": "layer1", "eps": 0.1})


def test_identity_covers_parameters():
    a, b = AIDPurifier(eps=0.1).identity(), AIDPurifier(eps=0.2).identity()
    assert a != b and a == AIDPurifier(eps=0.1).identity()
    assert set(a["params"]) >= {"taps", "train_eps", "gamma", "eps", "steps", "augmentation", "targets", "surrogate"}


def test_stack_runs_aid(aid, x_test):
    stack = Stack([("none", DEFENSES.create("none")), ("aid", aid)])
    assert torch.equal(stack.purify(x_test), aid.purify(x_test))
    assert not stack.differentiable


def test_timing_reports_per_image_and_throughput(aid, x_test):
    timing = time_purification(aid.purify, x_test[:3], batch_size=8, single_images=2)
    assert timing.seconds_per_image > 0 and timing.images_per_second > 0
    assert (timing.batch_size, timing.single_images, timing.device) == (8, 2, "cpu")
    with pytest.raises(InvalidInputError):
        time_purification(aid.purify, x_test[:0])
