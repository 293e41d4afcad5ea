"""Every registered attack: the base type's guarantees, honest success flags, determinism, bad inputs.

Attacks run with cheap settings on a few examples: these tests check the
contract, not the strength (see test_attack_crosscheck.py for that).
"""

from __future__ import annotations

import math

import pytest
import torch

from attacks import ATTACKS, Attack, Norm
from attacks.norms import project, random_start, within_ball
from attacks.ssp import FeatureDistortion, features
from bench.errors import InvalidInputError, UserError

#: Cheap settings per registered attack; a new attack must add its own here.
CHEAP: dict[str, dict] = {
    "pgd": dict(steps=5),
    "mim": dict(steps=5),
    "cw": dict(binary_search_steps=2, steps=20, initial_const=1.0),
    "deepfool": dict(steps=10),
    "autoattack": dict(n_iter=3, n_queries=20, n_target_classes=1),
    "apgd": dict(n_iter=3),
    "square": dict(n_queries=20),
    "ssp": dict(steps=10, step_size=0.05),
}
EPS = {Norm.LINF: 0.3, Norm.L2: 2.0}
#: Attacks that draw random numbers (a different seed gives different examples).
RANDOMIZED = ["pgd", "square", "ssp", "autoattack", "apgd"]


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def batch(mnist) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist.test.x[:16], mnist.test.y[:16]


def test_every_registered_attack_has_cheap_settings():
    assert sorted(CHEAP) == ATTACKS.names()


@pytest.mark.parametrize("name", sorted(CHEAP))
def test_attack_contract(name, natural_cnn, batch):
    """Same shape, inside the eps-ball and [0, 1], success flags equal to recomputed predictions."""
    x, y = batch
    attack = ATTACKS.create(name, **CHEAP[name])
    eps = EPS[attack.norm]
    result = attack(natural_cnn, x, y, eps, generator=seeded())
    assert result.x_adv.shape == x.shape and result.x_adv.dtype == x.dtype
    assert within_ball(result.x_adv, x, eps, attack.norm)
    assert result.success.dtype == torch.bool and result.success.shape == y.shape
    with torch.no_grad():
        assert torch.equal(result.success, natural_cnn(result.x_adv).argmax(1) != y)
    assert result.success.any(), f"{name} fooled no example of a naturally trained network at eps={eps}"


@pytest.mark.parametrize("name", ["pgd", "mim", "deepfool", "ssp", "square"])
def test_attack_works_on_a_plain_callable(name, natural_cnn, batch):
    """Targets need not be modules (wrapped libraries get a tiny module around them)."""
    x, y = batch
    attack = ATTACKS.create(name, **CHEAP[name], **({"layer": None} if name == "ssp" else {}))
    result = attack(lambda t: natural_cnn(t), x, y, 0.3, generator=seeded())
    assert within_ball(result.x_adv, x, 0.3, attack.norm)


@pytest.mark.parametrize("name", sorted(CHEAP))
def test_same_seed_same_examples(name, natural_cnn, batch):
    x, y = batch
    attack = ATTACKS.create(name, **CHEAP[name])
    eps = EPS[attack.norm]
    first = attack(natural_cnn, x, y, eps, generator=seeded(3))
    second = attack(natural_cnn, x, y, eps, generator=seeded(3))
    assert torch.equal(first.x_adv, second.x_adv)


@pytest.mark.parametrize("name", RANDOMIZED)
def test_other_seed_other_examples(name, natural_cnn, batch):
    x, y = batch
    attack = ATTACKS.create(name, **CHEAP[name])
    eps = EPS[attack.norm]
    assert not torch.equal(attack(natural_cnn, x, y, eps, generator=seeded(1)).x_adv,
                           attack(natural_cnn, x, y, eps, generator=seeded(2)).x_adv)


@pytest.mark.parametrize("name", ["square", "autoattack", "apgd"])
def test_reseeding_libraries_leave_the_global_rng_alone(name, natural_cnn, batch):
    x, y = batch
    before = torch.get_rng_state()
    ATTACKS.create(name, **CHEAP[name])(natural_cnn, x, y, 0.3, generator=seeded())
    assert torch.equal(before, torch.get_rng_state())


def test_zero_eps_returns_the_clean_images(natural_cnn, batch):
    x, y = batch
    result = ATTACKS.create("cw", **CHEAP["cw"])(natural_cnn, x, y, 0.0)
    assert torch.equal(result.x_adv, x)
    with torch.no_grad():
        assert torch.equal(result.success, natural_cnn(x).argmax(1) != y)


class Rogue(Attack):
    """An attack that ignores the budget; ``__call__`` must repair what it returns."""

    def __init__(self, out, **kwargs) -> None:
        super().__init__(**kwargs)
        self.out = out

    def run(self, target, x, y, eps, generator):
        return self.out(x)


@pytest.mark.parametrize("norm", list(Norm))
def test_call_projects_whatever_run_returns(norm, natural_cnn, batch):
    x, y = batch
    result = Rogue(lambda t: t + torch.linspace(-3, 3, t.numel()).view_as(t), norm=norm)(natural_cnn, x, y, 0.1)
    assert within_ball(result.x_adv, x, 0.1, norm)
    assert (result.x_adv != x).any()


def test_call_replaces_non_finite_pixels_by_clean_ones(natural_cnn, batch):
    x, y = batch
    result = Rogue(lambda t: torch.full_like(t, math.nan))(natural_cnn, x, y, 0.1)
    assert torch.equal(result.x_adv, x)


def test_call_rejects_a_wrong_shape_from_run(natural_cnn, batch):
    x, y = batch
    with pytest.raises(RuntimeError, match="returned shape"):
        Rogue(lambda t: t[:1])(natural_cnn, x, y, 0.1)


def bad_inputs(x: torch.Tensor, y: torch.Tensor) -> list[tuple[str, torch.Tensor, torch.Tensor, float, str]]:
    nan = x.clone()
    nan[0, 0, 0, 0] = math.nan
    return [
        ("negative eps", x, y, -0.1, "eps must be"),
        ("nan eps", x, y, math.nan, "eps must be"),
        ("nan pixel", nan, y, 0.1, "NaN"),
        ("pixels above 1", x * 255, y, 0.1, r"\[0, 1\]"),
        ("pixels below 0", x - 1, y, 0.1, r"\[0, 1\]"),
        ("too few labels", x, y[:-1], 0.1, "labels must be"),
        ("2-d labels", x, y[:, None], 0.1, "labels must be"),
        ("float labels", x, y.float(), 0.1, "integer class indices"),
        ("3-d images", x[:, 0], y, 0.1, r"\(N, C, H, W\)"),
        ("uint8 images", (x * 255).to(torch.uint8), y, 0.1, "floating-point"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_bad_inputs_raise_clear_errors(case, natural_cnn, batch):
    name, x, y, eps, message = bad_inputs(*batch)[case]
    with pytest.raises(InvalidInputError, match=message):
        ATTACKS.create("pgd", steps=1)(natural_cnn, x, y, eps)


def test_bad_inputs_are_caught_before_a_wrapped_library_runs(natural_cnn, batch):
    x, y = batch
    with pytest.raises(InvalidInputError, match="eps must be"):
        ATTACKS.create("autoattack")(natural_cnn, x, y, -1.0)


def test_unknown_norm_is_a_user_error():
    with pytest.raises(InvalidInputError, match="unknown norm 'l3'"):
        ATTACKS.create("pgd", norm="l3")


def test_unsupported_norm_names_the_supported_ones():
    with pytest.raises(InvalidInputError, match=r"supports norms \['l2'\]"):
        ATTACKS.create("cw", norm="linf")


@pytest.mark.parametrize("name, params, message", [
    ("pgd", dict(steps=0), "steps and restarts"),
    ("pgd", dict(loss="hinge"), "unknown attack loss"),
    ("autoattack", dict(version="plus"), "unknown AutoAttack version"),
    ("apgd", dict(loss="margin"), "unknown APGD loss"),
    ("apgd", dict(rho=1.5), "rho must lie"),
    ("square", dict(n_queries=0), "n_queries"),
    ("ssp", dict(step_size=0.0), "step_size > 0"),
    ("deepfool", dict(loss="mse"), "deepfool loss"),
])
def test_bad_parameters_raise_user_errors(name, params, message):
    with pytest.raises(UserError, match=message):
        ATTACKS.create(name, **params)


def test_ssp_needs_a_module_for_a_tap(natural_cnn, batch):
    x, y = batch
    with pytest.raises(InvalidInputError, match="layer=None"):
        ATTACKS.create("ssp", steps=1)(lambda t: natural_cnn(t), x, y, 0.1)


def test_ssp_ignores_labels(natural_cnn, batch):
    x, y = batch
    ssp = ATTACKS.create("ssp", **CHEAP["ssp"])
    assert torch.equal(ssp(natural_cnn, x, y, 0.3, generator=seeded()).x_adv,
                       ssp(natural_cnn, x, (y + 1) % 10, 0.3, generator=seeded()).x_adv)


def test_ssp_increases_feature_distortion_over_its_random_start(natural_cnn, batch):
    x, y = batch
    attacked = ATTACKS.create("ssp", **CHEAP["ssp"])(natural_cnn, x, y, 0.3, generator=seeded()).x_adv
    with torch.no_grad():
        distortion = FeatureDistortion("layer2", features(natural_cnn, x, "layer2"))
        start = distortion(natural_cnn, random_start(x, 0.3, Norm.LINF, seeded()), y)
        assert (distortion(natural_cnn, attacked, y) > start).all()


@pytest.mark.parametrize("norm", list(Norm))
def test_projection_leaves_points_inside_the_ball_bit_for_bit(norm, batch):
    x, _ = batch
    noise = torch.randn(x.shape, generator=seeded())
    once = project(x + noise, x, EPS[norm], norm)
    assert within_ball(once, x, EPS[norm], norm) and not torch.equal(once, x + noise)
    assert torch.equal(project(once, x, EPS[norm], norm), once)


def test_best_iterate_returns_the_best_candidate_it_saw(natural_cnn, batch):
    """An attack descending the margin worsens every step; keep_best must return each example's best candidate."""
    from attacks.iterative import iterate
    from attacks.losses import margins

    x, y = batch
    seen = []

    def descending(target, z, labels):
        seen.append(z.detach().clone())
        return -margins(target(z), labels)

    start = random_start(x, 0.3, Norm.LINF, seeded())
    best = iterate(natural_cnn, x, y, eps=0.3, step_size=0.05, steps=6, norm=Norm.LINF, loss=descending, start=start,
                   keep_best=True)
    last = iterate(natural_cnn, x, y, eps=0.3, step_size=0.05, steps=6, norm=Norm.LINF, loss=descending, start=start)
    with torch.no_grad():
        candidates = torch.stack([margins(natural_cnn(z), y) for z in seen[:6] + [last]])
        returned = margins(natural_cnn(best), y)
    assert torch.equal(returned, candidates.amax(0))
    assert (returned >= candidates[-1]).all() and (returned > candidates[-1]).any()


def test_best_iterate_keeps_an_example_fooled_once(natural_cnn, batch):
    x, y = batch
    plain = ATTACKS.create("pgd", steps=5, step_size=0.2)(natural_cnn, x, y, 0.3, generator=seeded())
    best = ATTACKS.create("pgd", steps=5, step_size=0.2).with_selection(keep_best=True)(natural_cnn, x, y, 0.3, generator=seeded())
    assert (best.success >= plain.success).all()


def test_given_start_begins_the_first_restart(natural_cnn, batch):
    """With no steps taken beyond the start, the returned point is the given start (projected)."""
    x, y = batch
    origin = random_start(x, 0.3, Norm.LINF, seeded(3))
    attack = ATTACKS.create("pgd", steps=1, step_size=1e-9).with_selection(keep_best=True, start=origin)
    assert torch.allclose(attack(natural_cnn, x, y, 0.3, generator=seeded()).x_adv, origin, atol=1e-6)
    with pytest.raises(InvalidInputError, match="start has shape"):
        ATTACKS.create("pgd", steps=1).with_selection(keep_best=False, start=origin[:, :, :5])(natural_cnn, x, y, 0.3)


def test_smooth_relu_curvature_leaves_values_and_first_derivatives_bitwise(natural_cnn, batch):
    from attacks.curvature import smooth_relu_curvature

    x, y = batch
    def value_and_grad(z):
        z = z.clone().requires_grad_(True)
        out = natural_cnn(z)
        return out.detach(), torch.autograd.grad(torch.nn.functional.cross_entropy(out, y), z)[0]

    with smooth_relu_curvature(10.0):
        smooth = value_and_grad(x)
    exact = value_and_grad(x)
    assert torch.equal(smooth[0], exact[0]) and torch.equal(smooth[1], exact[1])


def test_smooth_relu_curvature_is_the_softplus_networks_second_derivative():
    """One hidden ReLU layer: the Hessian-vector product equals finite differences of the softplus_beta net's gradient."""
    from attacks.curvature import smooth_relu_curvature

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 1)).double()
    beta = 4.0
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    v = torch.randn_like(x)
    with smooth_relu_curvature(beta):
        (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    (hessian_v,) = torch.autograd.grad((grad * v).sum(), x)

    def softplus_grad(z):
        z = z.detach().requires_grad_(True)
        return torch.autograd.grad(net[2](torch.nn.functional.softplus(net[0](z), beta=beta)).sum(), z)[0]

    h = 1e-6
    numeric = (softplus_grad(x + h * v) - softplus_grad(x - h * v)) / (2 * h)
    torch.testing.assert_close(hessian_v, numeric, rtol=1e-5, atol=1e-8)
    assert hessian_v.abs().sum() > 0


@pytest.mark.parametrize("beta", [0, -1.0, float("nan"), True, "10"])
def test_relu_beta_must_be_positive(beta):
    from attacks.curvature import relu_curvature

    with pytest.raises(InvalidInputError, match="relu_beta"):
        relu_curvature(beta)


def test_infinite_relu_beta_is_relus_own_curvature():
    from attacks.curvature import relu_curvature, smooth_relu_curvature

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    x = torch.randn(2, 3, requires_grad=True)
    with relu_curvature(float("inf")):
        (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    (second,) = torch.autograd.grad((grad * torch.randn_like(grad)).sum(), x, allow_unused=True)
    assert second is None or not second.any()
    with pytest.raises(InvalidInputError, match="finite beta"):
        smooth_relu_curvature(float("inf"))
