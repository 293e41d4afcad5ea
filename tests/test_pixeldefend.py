"""PixelDefend mechanics: causal masks, the eps-bounded decoding, fast == naive, state and stacking.

These tests check how the defense works, never how well: PixelCNNs of a few
channels trained for a few batches, four 28x28 digits or 8x8 colour crops.
"""

from __future__ import annotations

import copy

import pytest
import torch

from bench.cache import ArtifactCache
from bench.data.splits import Split
from bench.errors import InvalidInputError, UserError
from defenses import DEFENSES, Defense, FitContext, Stack
from defenses.pixeldefend import PixelDefend
from defenses.pixeldefend.decode_fast import TIE_MARGIN, IncrementalPixelCNN, decode_fast
from defenses.pixeldefend.decode_naive import decode_naive
from defenses.pixeldefend.levels import to_levels
from defenses.pixeldefend.network import PixelCNN
from defenses.pixeldefend.training import negative_log_likelihood

CPU = torch.device("cpu")
TINY = dict(hidden=8, blocks=1, epochs=1, batch_size=32)


def context(split: Split, seed: int = 0, dataset: str = "mnist5k") -> FitContext:
    return FitContext(None, split, dataset, CPU, seed=seed, progress=False)  # type: ignore[arg-type]  (unused)


def fitted(split: Split, seed: int = 0, **params) -> PixelDefend:
    defense = PixelDefend(**{**TINY, **params})
    defense.fit(context(split, seed))
    return defense


def colour_crops(x: torch.Tensor) -> torch.Tensor:
    """8x8 three-channel images with correlated channels, made from digit crops."""
    crop = x[:, :, 10:18, 10:18]
    return torch.cat([crop, 0.5 * crop, 1 - crop], dim=1)


@pytest.fixture(scope="module")
def train_split(mnist) -> Split:
    return mnist.train.head(128)


@pytest.fixture(scope="module")
def pixeldefend(train_split) -> PixelDefend:
    return fitted(train_split)


@pytest.fixture(scope="module")
def x_real(mnist) -> torch.Tensor:
    """Two clean test digits and two with uniform noise of 0.3: decoding then has work to do."""
    x = mnist.test.x[:4].clone()
    noise = torch.empty_like(x[2:]).uniform_(-0.3, 0.3, generator=torch.Generator().manual_seed(0))
    x[2:] = (x[2:] + noise).clamp(0, 1)
    return x


@pytest.fixture(scope="module")
def colour_defense(mnist) -> PixelDefend:
    split = Split(colour_crops(mnist.train.x[:128]), mnist.train.y[:128])
    return fitted(split, hidden=6, first_kernel=3, eps=16 / 255)


def decoding_net(defense: PixelDefend) -> PixelCNN:
    return copy.deepcopy(defense.pixelcnn).double()


def test_registered_with_flags():
    defense = DEFENSES.create("pixeldefend")
    assert isinstance(defense, PixelDefend)
    assert (defense.differentiable, defense.unrollable, defense.randomized) == (False, False, False)


def test_identity_ignores_the_decoder_but_not_the_radius():
    assert PixelDefend(decoder="naive").identity() == PixelDefend().identity()
    assert PixelDefend(eps=0.1).identity() != PixelDefend().identity()


def flipped(levels: torch.Tensor, subpixels) -> torch.Tensor:
    out = levels.clone()
    for i, j, c in subpixels:
        out[0, c, i, j] = 255 - out[0, c, i, j]
    return out


@pytest.mark.parametrize("colours", [1, 3])
def test_logits_depend_only_on_earlier_subpixels(colours):
    torch.manual_seed(0)
    net = PixelCNN(colours, hidden=12, blocks=2, first_kernel=3, kernel=3).double().eval()
    levels = torch.randint(256, (1, colours, 6, 6))
    order = [(i, j, c) for i in range(6) for j in range(6) for c in range(colours)]
    with torch.no_grad():
        base = net(levels)
        for k in (5, len(order) // 2, len(order) - 1):
            i, j, c = order[k]
            at = lambda lv: net(lv)[0, c, :, i, j]  # noqa: E731
            assert torch.equal(at(flipped(levels, order[k:])), base[0, c, :, i, j])
            assert not torch.equal(at(flipped(levels, order[:k])), base[0, c, :, i, j])
        if colours > 1:  # the last channel of a pixel sees the pixel's earlier channels
            i, j = 3, 3
            same_pixel = [(i, j, c) for c in range(colours - 1)]
            assert not torch.equal(net(flipped(levels, same_pixel))[0, -1, :, i, j], base[0, -1, :, i, j])


def test_purify_shape_range_and_eps_window(pixeldefend, x_real):
    out = pixeldefend.purify(x_real)
    assert out.shape == x_real.shape and out.dtype == x_real.dtype
    assert out.min() >= 0 and out.max() <= 1
    levels = out * 255
    assert torch.equal(levels, levels.round())  # on the 8-bit grid
    eps_levels = pixeldefend.config.eps_levels
    assert eps_levels == 77  # the mnist5k preset, 77/255
    assert (levels.round().long() - to_levels(x_real)).abs().max() <= eps_levels
    assert (out - x_real).abs().max() <= (eps_levels + 0.5) / 255 + 1e-6
    assert not torch.equal(out, x_real)


def test_fast_and_naive_decoders_agree_on_real_digits(pixeldefend, x_real):
    fast = pixeldefend.decode(x_real, "fast")
    assert torch.equal(fast, pixeldefend.decode(x_real, "naive"))
    assert torch.equal(fast, pixeldefend.purify(x_real))


def test_fast_and_naive_decoders_agree_on_colour_images(colour_defense, mnist):
    x = colour_crops(mnist.test.x[:4])
    x[2:] = (x[2:] + 0.1 * torch.randn(x[2:].shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    fast = colour_defense.decode(x, "fast")
    assert torch.equal(fast, colour_defense.decode(x, "naive"))
    assert (fast * 255 - to_levels(x)).abs().max() <= 16


def test_incremental_logits_match_the_full_network_to_rounding(pixeldefend, colour_defense, x_real, mnist):
    """The rounding gap the tie margin must dominate."""
    for defense, x in ((pixeldefend, x_real), (colour_defense, colour_crops(mnist.test.x[:4]))):
        net, levels = decoding_net(defense), to_levels(x)
        state = IncrementalPixelCNN(net, levels)
        with torch.no_grad():
            full = net(levels)
            _, colours, height, width = x.shape
            gap = max((state.logits(i, j, c) - full[:, c, :, i, j]).abs().max().item()
                      for i in range(height) for j in range(width) for c in range(colours))
        assert gap < TIE_MARGIN / 1000


def test_exact_ties_are_settled_as_the_naive_decoder_settles_them(pixeldefend, x_real):
    net = decoding_net(pixeldefend)
    with torch.no_grad():
        net.out.weight.zero_()
        net.out.bias.zero_()  # every logit equal: each choice is a tie, the lowest level of the window wins
    levels = to_levels(x_real[:, :, :8, :8])
    expected = (levels - 20).clamp_min(0)
    assert torch.equal(decode_naive(net, levels, 20), expected)
    assert torch.equal(decode_fast(net, levels, 20), expected)


def test_zero_eps_returns_the_quantised_input(train_split, x_real, pixeldefend):
    defense = PixelDefend(**TINY, eps=0.0)
    defense.build(context(train_split))
    defense.load_state_dict(pixeldefend.state_dict())
    assert torch.equal(defense.purify(x_real), to_levels(x_real) / 255.0)


def test_purify_is_batch_independent(pixeldefend, x_real):
    parts = torch.cat([pixeldefend.purify(x_real[:1]), pixeldefend.purify(x_real[1:])])
    assert torch.equal(parts, pixeldefend.purify(x_real))


def test_fit_is_deterministic_under_a_seed(train_split, pixeldefend, x_real):
    again = fitted(train_split)
    state, other = pixeldefend.state_dict(), again.state_dict()
    assert state.keys() == other.keys() and all(torch.equal(state[k], other[k]) for k in state)
    assert torch.equal(again.purify(x_real), pixeldefend.purify(x_real))
    reseeded = fitted(train_split, seed=1).state_dict()
    assert not all(torch.equal(state[k], reseeded[k]) for k in state)


def test_fit_records_time_and_lowers_held_out_likelihood_loss(train_split, pixeldefend, mnist):
    assert pixeldefend.fit_seconds is not None and pixeldefend.fit_seconds > 0
    untrained = PixelDefend(**TINY)
    untrained.build(context(train_split))  # the initial network of fit(): same seed, same init
    held = to_levels(mnist.test.x[:16])
    with torch.no_grad():
        assert negative_log_likelihood(pixeldefend.pixelcnn, held) < negative_log_likelihood(untrained.pixelcnn, held)


def test_state_round_trip_through_the_artifact_cache(tmp_path, train_split, pixeldefend, x_real):
    cache = ArtifactCache(tmp_path)
    cache.save("defenses", "pixeldefend-test", pixeldefend.state_dict(), {})
    fresh = PixelDefend(**TINY)
    with pytest.raises(UserError, match="build"):
        fresh.load_state_dict(pixeldefend.state_dict())
    fresh.build(context(train_split, seed=5))
    fresh.load_state_dict(cache.load("defenses", "pixeldefend-test").tensors)
    assert torch.equal(fresh.purify(x_real), pixeldefend.purify(x_real))


class Halve(Defense):
    """A toy second stage."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2


def test_works_in_a_stack(pixeldefend, x_real):
    stack = Stack([("pixeldefend", pixeldefend), ("halve", Halve())])
    assert not stack.differentiable and not stack.randomized
    assert torch.equal(stack.purify(x_real), pixeldefend.purify(x_real) / 2)
    assert [name for name, _ in Stack.from_name("pixeldefend+aid").stages] == ["pixeldefend", "aid"]


def test_user_errors(train_split, pixeldefend):
    with pytest.raises(InvalidInputError, match="eps"):
        PixelDefend(eps=2.0)
    with pytest.raises(InvalidInputError, match="decoder"):
        PixelDefend(decoder="fastest")
    with pytest.raises(InvalidInputError, match="odd"):
        PixelDefend(kernel=4)
    with pytest.raises(UserError, match="fit"):
        PixelDefend().purify(torch.zeros(1, 1, 4, 4))
    with pytest.raises(InvalidInputError, match="preset"):
        PixelDefend().build(context(train_split, dataset="unknown"))
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        pixeldefend.purify(torch.full((1, 1, 4, 4), 1.5))
    with pytest.raises(InvalidInputError, match="channels"):
        pixeldefend.purify(torch.zeros(1, 3, 4, 4))
    with pytest.raises(InvalidInputError, match="multiple"):
        PixelCNN(3, hidden=8, blocks=1, first_kernel=3, kernel=3)
