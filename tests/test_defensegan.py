"""Defense-GAN mechanics: the latent search, determinism, the unrolled gradient, state and stacking.

These tests check how the defense works, never how well: a DCGAN of a few
channels trained for a few dozen steps, four 28x28 digits.
"""

from __future__ import annotations

import pytest
import torch

from attacks.threats import THREATS
from attacks.threats.pipeline import DefendedPipeline
from bench.cache import ArtifactCache
from bench.data.splits import Split
from bench.errors import InvalidInputError, UserError
from defenses import DEFENSES, Defense, FitContext, Stack
from defenses.defensegan import DefenseGAN
from defenses.defensegan.search import search, starting_points

CPU = torch.device("cpu")
TINY = dict(latent=8, width=4, train_steps=30, batch_size=32, restarts=2, search_steps=10)


def context(split: Split, seed: int = 0, dataset: str = "mnist5k") -> FitContext:
    return FitContext(None, split, dataset, CPU, seed=seed, progress=False)  # type: ignore[arg-type]  (unused)


def fitted(split: Split, seed: int = 0, **params) -> DefenseGAN:
    defense = DefenseGAN(**{**TINY, **params})
    defense.fit(context(split, seed))
    return defense


@pytest.fixture(scope="module")
def train_split(mnist) -> Split:
    return mnist.train.head(256)


@pytest.fixture(scope="module")
def gan(train_split) -> DefenseGAN:
    return fitted(train_split)


@pytest.fixture(scope="module")
def x_test(mnist) -> torch.Tensor:
    return mnist.test.x[:4]


def test_registered_with_flags():
    defense = DEFENSES.create("defensegan")
    assert isinstance(defense, DefenseGAN)
    assert (defense.differentiable, defense.unrollable, defense.randomized) == (False, True, False)
    assert defense.gradient_impractical


def test_purify_shape_and_range(gan, x_test):
    out = gan.purify(x_test)
    assert out.shape == x_test.shape and out.dtype == x_test.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert not out.requires_grad and not torch.equal(out, x_test)


def test_reconstruction_error_decreases_with_more_steps(gan, x_test):
    errors = [gan.reconstruct(x_test, search_steps=steps).errors.mean() for steps in (0, 5, 40)]
    assert errors[0] > errors[1] > errors[2]


def test_purify_keeps_the_best_restart(gan, x_test):
    cfg = gan.config
    rec = gan.reconstruct(x_test)
    torch.testing.assert_close(rec.errors, (rec.images - x_test).pow(2).flatten(1).sum(1))
    torch.testing.assert_close(gan.purify(x_test), rec.images)
    starts = starting_points(cfg.restarts, cfg.latent, cfg.restart_seed)
    each = torch.stack([search(gan.generator, x_test, starts[l : l + 1], steps=cfg.search_steps, lr=cfg.search_lr).errors
                        for l in range(cfg.restarts)])
    torch.testing.assert_close(rec.errors, each.min(dim=0).values)


def test_purify_is_deterministic_and_batch_independent(gan, x_test):
    first = gan.purify(x_test)
    assert torch.equal(gan.purify(x_test), first)
    with torch.no_grad():
        assert torch.equal(gan.purify(x_test), first)
    with torch.inference_mode():
        assert torch.equal(gan.purify(x_test.clone()), first)
    parts = torch.cat([gan.purify(x_test[:1]), gan.purify(x_test[1:])])
    torch.testing.assert_close(parts, first, rtol=0, atol=1e-5)


def test_restart_seed_changes_the_starting_points(train_split, gan, x_test):
    other = DefenseGAN(**{**TINY, "restart_seed": 1})
    other.build(context(train_split))
    other.load_state_dict(gan.state_dict())
    assert not torch.equal(other.purify(x_test), gan.purify(x_test))


def test_fit_is_deterministic_under_a_seed(train_split, gan, x_test):
    assert gan.fit_seconds is not None and gan.fit_seconds > 0
    again = fitted(train_split)
    state, other = gan.state_dict(), again.state_dict()
    assert state.keys() == other.keys() and all(torch.equal(state[k], other[k]) for k in state)
    assert torch.equal(again.purify(x_test), gan.purify(x_test))
    reseeded = fitted(train_split, seed=1).state_dict()
    assert not all(torch.equal(state[k], reseeded[k]) for k in state)


def test_state_round_trip_through_the_artifact_cache(tmp_path, train_split, gan, x_test):
    cache = ArtifactCache(tmp_path)
    cache.save("defenses", "defensegan-test", gan.state_dict(), {})
    fresh = DefenseGAN(**TINY)
    with pytest.raises(UserError, match="build"):
        fresh.load_state_dict(gan.state_dict())
    fresh.build(context(train_split, seed=5))
    fresh.load_state_dict(cache.load("defenses", "defensegan-test").tensors)
    assert torch.equal(fresh.purify(x_test), gan.purify(x_test))


def test_unrolled_purify_matches_purify_and_has_gradients(gan, x_test):
    x = x_test.clone().requires_grad_(True)
    out = gan.unrolled_purify(x)
    torch.testing.assert_close(out.detach(), gan.purify(x_test), rtol=0, atol=1e-6)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in gan.generator.parameters())


def test_unrolled_gradient_matches_finite_differences(train_split, gan, x_test):
    """In float64 with one restart, the directional derivative of the whole search."""
    defense = DefenseGAN(**{**TINY, "restarts": 1, "search_steps": 3})
    defense.build(context(train_split))
    defense.load_state_dict(gan.state_dict())
    defense.generator.double()
    x = x_test[:2].double()
    weights = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    direction = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    f = lambda v: (defense.unrolled_purify(v) * weights).sum()  # noqa: E731
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(xg), xg)
    h = 1e-5
    with torch.no_grad():
        numeric = (f(x + h * direction) - f(x - h * direction)) / (2 * h)
    # The generator has ReLU kinks (and the output a clip): a unit crossing one inside +-h shifts the
    # central difference by up to about a percent, while a wrong gradient is off by far more.
    assert (grad * direction).sum().item() == pytest.approx(numeric.item(), rel=2e-2, abs=1e-8)


def test_adaptive_pipeline_gradients_through_the_stage(gan, natural_cnn, x_test, mnist):
    """Its exact gradient is declared impractical: BPDA's identity in modes auto and bpda, the unrolled search on request."""
    y = mnist.test.y[:4]

    def input_gradient(mode: str) -> torch.Tensor:
        x = x_test.clone().requires_grad_(True)
        logits = DefendedPipeline(natural_cnn, Stack([("defensegan", gan)]), mode)(x)
        torch.nn.functional.cross_entropy(logits, y).backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        return x.grad

    purified = gan.purify(x_test).requires_grad_(True)
    torch.nn.functional.cross_entropy(natural_cnn(purified), y).backward()
    for mode in ("auto", "bpda"):
        assert torch.allclose(input_gradient(mode), purified.grad)
    assert not torch.allclose(input_gradient("unrolled"), purified.grad, atol=1e-6)
    stages = [("defensegan", gan)]
    assert "BPDA through defensegan" in THREATS.create("adaptive").gradient_note(stages)
    assert THREATS.create("adaptive", gradient="unrolled").gradient_note(stages) is None


class Halve(Defense):
    """A toy second stage."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2


def test_works_in_a_stack(gan, x_test):
    stack = Stack([("defensegan", gan), ("halve", Halve())])
    assert not stack.differentiable and not stack.randomized
    assert torch.equal(stack.purify(x_test), gan.purify(x_test) / 2)
    assert [name for name, _ in Stack.from_name("defensegan+aid").stages] == ["defensegan", "aid"]


def test_user_errors(train_split, gan):
    with pytest.raises(InvalidInputError, match="restarts"):
        DefenseGAN(restarts=0)
    with pytest.raises(InvalidInputError, match="search_lr"):
        DefenseGAN(search_lr=-1.0)
    with pytest.raises(UserError, match="fit"):
        DefenseGAN().purify(torch.zeros(1, 1, 28, 28))
    with pytest.raises(InvalidInputError, match="preset"):
        DefenseGAN().build(context(train_split, dataset="unknown"))
    with pytest.raises(InvalidInputError, match="multiples of 4"):
        DefenseGAN(**TINY).build(context(Split(torch.zeros(2, 1, 30, 30), torch.zeros(2, dtype=torch.long))))
    with pytest.raises(InvalidInputError, match="fitted to images"):
        gan.purify(torch.zeros(1, 1, 32, 32))
