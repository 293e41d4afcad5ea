"""Attack strength against independent implementations, on a naturally trained small CNN.

The criterion: our robust accuracy is at most the reference's plus one point
(a weaker attack than its reference is a bug).  PGD is checked against
Foolbox's PGD; C&W and DeepFool, which are Foolbox's, check that our wrapper
(projection, bookkeeping) loses nothing against Foolbox called directly; MIM's
default (L1) accumulation against a direct transcription of Dong et al.'s update
(its Foolbox accumulation is checked in ``test_attack_presets.py``);
Square and AutoAttack against pyautoattack called directly with the same seed.
Budgets are chosen so that the network is neither unbroken nor fully broken.
"""

from __future__ import annotations

import foolbox as fb
import pytest
import torch
import torch.nn.functional as F
from pyautoattack import AutoAttack
from pyautoattack.square import SquareAttack

from attacks import ATTACKS
from attacks.targets import seed_from

N = 200
TOLERANCE = 0.01  # one point of accuracy


@pytest.fixture(scope="module")
def data(mnist) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist.test.x[:N], mnist.test.y[:N]


def accuracy(model, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def foolbox_accuracy(model, attack, x: torch.Tensor, y: torch.Tensor, eps: float) -> float:
    """Robust accuracy of Foolbox's own attack, judged by Foolbox's own success flags."""
    _, _, success = attack(fb.PyTorchModel(model, bounds=(0, 1)), x, y, epsilons=eps)
    return 1 - success.float().mean().item()


def ours(name: str, model, x, y, eps: float, **params) -> float:
    result = ATTACKS.create(name, **params)(model, x, y, eps, generator=torch.Generator().manual_seed(0))
    return 1 - result.success.float().mean().item()


def check_not_weaker(our_acc: float, ref_acc: float, clean_acc: float) -> None:
    assert ref_acc < clean_acc, "the budget does not let the reference attack fool anything: the check would be vacuous"
    assert our_acc <= ref_acc + TOLERANCE, f"ours leaves {our_acc:.1%} robust, the reference {ref_acc:.1%}"


def test_pgd_linf_not_weaker_than_foolbox(natural_cnn, data):
    x, y = data
    eps, step, steps = 0.1, 0.01, 20
    torch.manual_seed(0)
    ref = foolbox_accuracy(natural_cnn, fb.attacks.LinfPGD(abs_stepsize=step, steps=steps, random_start=True), x, y, eps)
    check_not_weaker(ours("pgd", natural_cnn, x, y, eps, steps=steps, step_size=step), ref, accuracy(natural_cnn, x, y))


def test_pgd_l2_not_weaker_than_foolbox(natural_cnn, data):
    x, y = data
    eps, step, steps = 1.0, 0.1, 20
    torch.manual_seed(0)
    ref = foolbox_accuracy(natural_cnn, fb.attacks.L2PGD(abs_stepsize=step, steps=steps, random_start=True), x, y, eps)
    check_not_weaker(ours("pgd", natural_cnn, x, y, eps, steps=steps, step_size=step, norm="l2"), ref, accuracy(natural_cnn, x, y))


def test_cw_wrapper_not_weaker_than_foolbox(natural_cnn, data):
    x, y = data[0][:100], data[1][:100]
    options = dict(binary_search_steps=2, steps=30, initial_const=1.0)
    ref = foolbox_accuracy(natural_cnn, fb.attacks.L2CarliniWagnerAttack(**options), x, y, 1.0)
    check_not_weaker(ours("cw", natural_cnn, x, y, 1.0, **options), ref, accuracy(natural_cnn, x, y))


def test_deepfool_wrapper_not_weaker_than_foolbox(natural_cnn, data):
    x, y = data[0][:100], data[1][:100]
    ref = foolbox_accuracy(natural_cnn, fb.attacks.LinfDeepFoolAttack(), x, y, 0.1)
    check_not_weaker(ours("deepfool", natural_cnn, x, y, 0.1), ref, accuracy(natural_cnn, x, y))


def reference_mim(model, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int, mu: float = 1.0) -> torch.Tensor:
    """Dong et al. 2018, Algorithm 1 (L-inf, untargeted), written out directly."""
    g = torch.zeros_like(x)
    x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        grad, = torch.autograd.grad(F.cross_entropy(model(x_adv), y, reduction="sum"), x_adv)
        g = mu * g + grad / grad.abs().sum(dim=(1, 2, 3), keepdim=True)
        x_adv = torch.min(torch.max(x_adv.detach() + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
    return x_adv


def test_mim_matches_the_reference_update(natural_cnn, data):
    x, y = data
    eps, step, steps = 0.1, 0.01, 20
    ref_adv = reference_mim(natural_cnn, x, y, eps, step, steps)
    result = ATTACKS.create("mim", steps=steps, step_size=step)(natural_cnn, x, y, eps)
    check_not_weaker(1 - result.success.float().mean().item(), accuracy(natural_cnn, ref_adv, y), accuracy(natural_cnn, x, y))
    assert torch.allclose(result.x_adv, ref_adv, atol=1e-5)


def test_square_wrapper_equals_pyautoattack(natural_cnn, data):
    x, y = data[0][:64], data[1][:64]
    seed = seed_from(torch.Generator().manual_seed(0))
    with torch.random.fork_rng():
        ref_adv = SquareAttack(natural_cnn, norm="Linf", n_queries=50, eps=0.1, seed=seed, device=x.device).perturb(x, y)
    result = ATTACKS.create("square", n_queries=50)(natural_cnn, x, y, 0.1, generator=torch.Generator().manual_seed(0))
    check_not_weaker(1 - result.success.float().mean().item(), accuracy(natural_cnn, ref_adv, y), accuracy(natural_cnn, x, y))
    assert torch.equal(result.x_adv, ref_adv)


def test_autoattack_wrapper_equals_pyautoattack(natural_cnn, data):
    x, y = data[0][:64], data[1][:64]
    seed = seed_from(torch.Generator().manual_seed(0))
    ensemble = AutoAttack(natural_cnn, norm="Linf", eps=0.1, version="standard", seed=seed)
    ensemble.apgd.n_iter = ensemble.apgd_targeted.n_iter = ensemble.fab.n_iter = 5
    ensemble.square.n_queries = 20
    ensemble.apgd_targeted.n_target_classes = ensemble.fab.n_target_classes = 1
    with torch.random.fork_rng():
        ref_adv, _ = ensemble.run_standard_evaluation(x, y, batch_size=500)
    result = ATTACKS.create("autoattack", n_iter=5, n_queries=20, n_target_classes=1)(
        natural_cnn, x, y, 0.1, generator=torch.Generator().manual_seed(0))
    check_not_weaker(1 - result.success.float().mean().item(), accuracy(natural_cnn, ref_adv, y), accuracy(natural_cnn, x, y))
    assert torch.equal(result.x_adv, ref_adv)
