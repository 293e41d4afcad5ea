"""DIR mechanics: complementary masks, the two training stages, seeded randomness, state, flags.

Tiny denoisers and a few hundred training examples on the naturally trained
small CNN; these tests check how the defense works, never how well.
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
from defenses.dir import DIRPurifier
from defenses.dir.config import Combine, resolve
from defenses.dir.denoiser import Denoiser
from defenses.dir.masks import random_mask
from defenses.dir.restoration import restore
from defenses.dir.training import dir_losses

CPU = torch.device("cpu")
TINY = dict(width=4, pretrain_epochs=3, epochs=2, batch_size=32, pretrain_steps=2, attack_steps=1, rep_steps=1,
            pretrain_lr=1e-2, lr=1e-3)


class Halve(Defense):
    """A toy stage for stacks: halves every pixel."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2


def context(classifier: nn.Module, split: Split, seed: int = 0) -> FitContext:
    return FitContext(classifier, split, "mnist5k", CPU, seed=seed, progress=False)


def fitted(classifier: nn.Module, split: Split, seed: int = 0, **params) -> DIRPurifier:
    defense = DIRPurifier(**{**TINY, **params})
    defense.fit(context(classifier, split, seed))
    return defense


def seeded(purify, x: torch.Tensor, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return purify(x)


@pytest.fixture(scope="module")
def train_split(mnist) -> Split:
    return mnist.train.head(160)


@pytest.fixture(scope="module")
def dir_defense(natural_cnn, train_split) -> DIRPurifier:
    return fitted(natural_cnn, train_split)


@pytest.fixture(scope="module")
def x_test(mnist) -> torch.Tensor:
    return mnist.test.x[:16]


def test_registered_with_flags():
    random, fixed = DEFENSES.create("dir"), DEFENSES.create("dir", mask_seed=3)
    assert isinstance(random, DIRPurifier) and random.needs_fit
    assert (random.differentiable, random.randomized, random.unrollable) == (True, True, False)
    assert (fixed.differentiable, fixed.randomized) == (True, False)


def test_masks_are_binary_patches_of_any_image_size():
    mask = random_mask(64, 28, 28, 3, generator=torch.Generator().manual_seed(0), device=CPU, dtype=torch.float32)
    assert mask.shape == (64, 1, 28, 28) and set(mask.unique().tolist()) == {0.0, 1.0}
    block = mask[:, :, :27, :27].reshape(64, 1, 9, 3, 9, 3)
    assert (block == block[:, :, :, :1, :, :1]).all()  # constant on every 3 x 3 patch
    assert 0.4 < mask.mean().item() < 0.6


def test_fill_never_lets_a_pixel_see_its_own_value(x_test):
    denoiser = Denoiser(1, 4)
    mask = random_mask(len(x_test), 28, 28, 2, generator=torch.Generator().manual_seed(0), device=CPU, dtype=x_test.dtype)
    changed = torch.where(mask.bool(), 1 - x_test, x_test)  # rewrite every pixel the mask keeps
    with torch.no_grad():
        a, b = restore(denoiser, x_test, mask, Combine.FILL), restore(denoiser, changed, mask, Combine.FILL)
        mean_a, mean_b = restore(denoiser, x_test, mask, Combine.MEAN), restore(denoiser, changed, mask, Combine.MEAN)
    kept = mask.bool().expand_as(a)
    assert torch.equal(a[kept], b[kept]) and not torch.equal(a[~kept], b[~kept])
    assert not torch.equal(mean_a[kept], mean_b[kept])


def test_purify_shape_range_and_change(dir_defense, x_test):
    out = seeded(dir_defense.purify, x_test, 0)
    assert out.shape == x_test.shape and out.dtype == x_test.dtype
    assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out, x_test)


def test_purify_is_differentiable(dir_defense, natural_cnn, x_test):
    x = x_test.clone().requires_grad_(True)
    natural_cnn(seeded(dir_defense.purify, x, 0)).logsumexp(1).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_random_masks_are_seeded_by_the_global_generator(dir_defense, x_test):
    a, b, c = (seeded(dir_defense.purify, x_test, s) for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_a_mask_seed_makes_purification_a_fixed_function(dir_defense, natural_cnn, train_split, x_test):
    fixed = DIRPurifier(**TINY, mask_seed=7)
    fixed.build(context(natural_cnn, train_split))
    fixed.load_state_dict(dir_defense.state_dict())
    whole = seeded(fixed.purify, x_test, 0)
    assert torch.equal(seeded(fixed.purify, x_test, 1), whole)
    assert torch.allclose(fixed.purify(x_test[:3]), whole[:3], atol=1e-6)  # the same mask for every image


def test_both_stages_lower_their_losses(dir_defense):
    stats = dir_defense.fit_stats
    assert stats["last_epoch_reconstruction_loss"] < stats["first_reconstruction_loss"]
    assert stats["last_epoch_adv_loss"] < stats["first_adv_loss"]
    assert dir_defense.fit_seconds is not None and dir_defense.fit_seconds > 0


def test_dir_losses_train_the_denoiser_only(natural_cnn, mnist):
    cfg = resolve("mnist5k", {**TINY})
    denoiser = Denoiser(1, cfg.width)
    x, y = mnist.train.x[:8], mnist.train.y[:8]
    before = [None if p.grad is None else p.grad.clone() for p in natural_cnn.parameters()]
    l_adv, l_rep, l_recon = dir_losses(denoiser, natural_cnn, x, y, cfg, torch.Generator().manual_seed(0))
    assert l_adv.item() > 0 and l_rep.item() >= 0 and l_recon.item() > 0
    (l_adv + l_rep + l_recon).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in denoiser.parameters())
    after = [p.grad for p in natural_cnn.parameters()]
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(after, before))


def test_fit_is_deterministic_under_its_seed(dir_defense, natural_cnn, train_split):
    again = fitted(natural_cnn, train_split, seed=0)
    assert state_digest(again.state_dict()) == state_digest(dir_defense.state_dict())
    other = fitted(natural_cnn, train_split.head(32), seed=1, pretrain_epochs=1, epochs=1)
    assert state_digest(other.state_dict()) != state_digest(dir_defense.state_dict())


def test_fit_leaves_the_classifier_untouched(natural_cnn, train_split):
    before = state_digest(natural_cnn.state_dict())
    flags = [p.requires_grad for p in natural_cnn.parameters()]
    fitted(natural_cnn, train_split.head(32), pretrain_epochs=1, epochs=1)
    assert state_digest(natural_cnn.state_dict()) == before
    assert [p.requires_grad for p in natural_cnn.parameters()] == flags and not natural_cnn.training


def test_state_round_trips_through_the_cache(dir_defense, natural_cnn, train_split, x_test, tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.save("defenses", "dir-key", dir_defense.state_dict(), {"fit_seconds": dir_defense.fit_seconds})
    assert set(dir_defense.state_dict()) and all(k.startswith("denoiser.") for k in dir_defense.state_dict())
    fresh = DIRPurifier(**TINY)
    fresh.build(context(natural_cnn, train_split))
    expected = seeded(dir_defense.purify, x_test, 0)
    assert not torch.equal(seeded(fresh.purify, x_test, 0), expected)  # untrained before loading
    fresh.load_state_dict(cache.load("defenses", "dir-key").tensors)
    assert torch.equal(seeded(fresh.purify, x_test, 0), expected)


def test_stacks_with_other_stages(dir_defense, x_test):
    stack = Stack([("halve", Halve()), ("dir", dir_defense)])
    assert torch.equal(seeded(stack.purify, x_test, 0), seeded(dir_defense.purify, x_test / 2, 0))
    assert stack.randomized and stack.differentiable


@pytest.mark.parametrize("params", [{"width": 0}, {"patch": 0}, {"combine": "max"}, {"mask_seed": -1}, {"eps": -0.1},
                                    {"rep_weight": -1.0}, {"lr": 0}])
def test_bad_parameters_fail_at_construction(params):
    with pytest.raises(InvalidInputError):
        DIRPurifier(**params)


def test_seeded_masks_share_the_fitted_state_of_random_ones():
    seeded_masks, random_masks = DIRPurifier(mask_seed=3), DIRPurifier()
    assert seeded_masks.fit_identity() == random_masks.fit_identity() and seeded_masks.identity() != random_masks.identity()
    assert random_masks.randomized and not seeded_masks.randomized
