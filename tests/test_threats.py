"""Threat models on toy defenses whose gradients are known: composition, BPDA, unrolling, EOT, eq. 2, black box."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from attacks import ATTACKS
from attacks.norms import within_ball
from attacks.threats import THREATS, craft, threat_model, threat_names
from attacks.threats.pipeline import DefendedPipeline, Expectation, QueryOnly
from bench.errors import InvalidInputError, UnknownNameError
from bench.models import ARCHS
from defenses import Defense, Stack

EPS = 0.3


class Smooth(Defense):
    """Differentiable: a 3x3 box blur."""

    def purify(self, x):
        return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class Quantise(Defense):
    """Non-differentiable: 5 grey levels (autograd sees a zero gradient)."""

    differentiable = False

    def purify(self, x):
        return (x * 4).round() / 4


class UnrollableQuantise(Quantise):
    """Offers a surrogate whose gradient (0.5 everywhere) is easy to recognise."""

    unrollable = True

    def unrolled_purify(self, x):
        return 0.5 * x + 0.25


class ExactUnrollableQuantise(Quantise):
    """The quantised values with the surrogate's derivative (0.5), counting the purifications."""

    unrollable = True
    unrolled_exact = True

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def purify(self, x):
        self.calls += 1
        return super().purify(x)

    def unrolled_purify(self, x):
        surrogate = 0.5 * x + 0.25
        return self.purify(x).detach() + (surrogate - surrogate.detach())


class Noise(Defense):
    """Randomized: additive Gaussian noise, counting its calls."""

    randomized = True

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def purify(self, x):
        self.calls += 1
        return (x + 0.2 * torch.randn_like(x)).clamp(0, 1)


class Aux(Defense):
    """Exposes an auxiliary loss: distance from mid-grey."""

    scale = 1.0

    def purify(self, x):
        return x

    def aux_loss(self, x):
        return self.scale * (x - 0.5).pow(2).flatten(1).mean(1)


class DoubleAux(Aux):
    scale = 2.0


def stack(*defenses: Defense) -> Stack:
    return Stack([(f"{type(d).__name__.lower()}{i}", d) for i, d in enumerate(defenses)])


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def pgd(steps: int = 5, **params):
    return ATTACKS.create("pgd", steps=steps, step_size=0.05, **params)


@pytest.fixture(scope="module")
def batch(mnist) -> tuple[torch.Tensor, torch.Tensor]:
    return mnist.test.x[:32], mnist.test.y[:32]


def input_gradient(target, x: torch.Tensor, objective) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(objective(target(x)).sum(), x)[0]


def test_threat_names_and_stack_dependence():
    assert threat_names() == ["adaptive", "auxaware", "blackbox", "oblivious", "transfer"]
    assert [name for name in THREATS.names() if not threat_model(name).depends_on_stack] == ["oblivious", "transfer"]


def test_unknown_threat_lists_the_valid_ones(natural_cnn, batch):
    with pytest.raises(UnknownNameError, match="unknown threats 'whitebox'.*oblivious"):
        craft("whitebox", pgd(), natural_cnn, None, *batch, EPS)


@pytest.mark.parametrize("threat", ["oblivious", "transfer"])
def test_stack_independent_threats_attack_the_classifier_only(threat, natural_cnn, batch):
    x, y = batch
    plain = pgd()(natural_cnn, x, y, EPS, generator=seeded())
    for defenses in (stack(Smooth()), stack(Quantise(), Noise())):
        crafted = craft(threat, pgd(), natural_cnn, defenses, x, y, EPS, generator=seeded())
        assert torch.equal(crafted.x_adv, plain.x_adv) and torch.equal(crafted.success, plain.success)


def test_adaptive_through_a_differentiable_defense_equals_attacking_the_composition(natural_cnn, batch):
    x, y = batch
    smooth = Smooth()
    composed = pgd()(lambda t: natural_cnn(smooth.purify(t)), x, y, EPS, generator=seeded())
    crafted = craft("adaptive", pgd(), natural_cnn, stack(smooth), x, y, EPS, generator=seeded(), select="last", start="random")
    assert torch.equal(crafted.x_adv, composed.x_adv) and torch.equal(crafted.success, composed.success)
    assert not torch.equal(crafted.x_adv, pgd()(natural_cnn, x, y, EPS, generator=seeded()).x_adv)


def test_adaptive_without_a_stack_is_the_plain_attack(natural_cnn, batch):
    x, y = batch
    assert torch.equal(craft("adaptive", pgd(), natural_cnn, None, x, y, EPS, generator=seeded()).x_adv,
                       pgd()(natural_cnn, x, y, EPS, generator=seeded()).x_adv)


def ce(y):
    return lambda logits: F.cross_entropy(logits, y, reduction="none")


def test_bpda_passes_the_gradient_straight_through(natural_cnn, batch):
    """Through a non-differentiable stage, the gradient is the classifier's at the purified point."""
    x, y = batch
    quantise = Quantise()
    assert not input_gradient(lambda t: natural_cnn(quantise.purify(t)), x, ce(y)).any(), "rounding hides the gradient"
    pipeline = DefendedPipeline(natural_cnn, stack(quantise))
    expected = input_gradient(natural_cnn, quantise.purify(x), ce(y))
    assert expected.abs().sum() > 0
    assert torch.allclose(input_gradient(pipeline, x, ce(y)), expected)
    with torch.no_grad():
        assert torch.equal(pipeline(x), natural_cnn(quantise.purify(x)))


def test_unrolled_stage_uses_the_surrogate_gradient_and_the_real_forward(natural_cnn, batch):
    x, y = batch
    defense = UnrollableQuantise()
    straight = input_gradient(natural_cnn, defense.purify(x), ce(y))
    auto = DefendedPipeline(natural_cnn, stack(defense), gradient="auto")
    assert torch.allclose(input_gradient(auto, x, ce(y)), 0.5 * straight)
    assert torch.equal(auto(x), natural_cnn(defense.purify(x)))
    bpda = DefendedPipeline(natural_cnn, stack(defense), gradient="bpda")
    assert torch.allclose(input_gradient(bpda, x, ce(y)), straight)


def test_an_exact_unrolling_gives_the_forward_value_without_a_second_purification(natural_cnn, batch):
    x, y = batch
    exact, inexact = ExactUnrollableQuantise(), UnrollableQuantise()
    pipeline = DefendedPipeline(natural_cnn, stack(exact))
    gradient = input_gradient(pipeline, x, ce(y))
    assert exact.calls == 1  # the unrolling's own; the forward value is taken from it
    assert torch.equal(gradient, input_gradient(DefendedPipeline(natural_cnn, stack(inexact)), x, ce(y)))
    with torch.enable_grad():
        assert torch.equal(pipeline(x.clone().requires_grad_(True)), natural_cnn(exact.purify(x)))


def test_unrolled_mode_needs_unrollable_stages(natural_cnn):
    with pytest.raises(InvalidInputError, match="neither differentiable nor unrollable"):
        DefendedPipeline(natural_cnn, stack(Quantise()), gradient="unrolled")


def test_eot_averages_the_gradient_over_samples(natural_cnn, batch):
    x, y = batch
    pipeline = DefendedPipeline(natural_cnn, stack(Noise()))
    true_logit = lambda logits: logits.gather(1, y[:, None]).squeeze(1)  # noqa: E731 - linear in the logits
    torch.manual_seed(0)
    averaged = input_gradient(Expectation(pipeline, 4), x, true_logit)
    torch.manual_seed(0)
    samples = [input_gradient(pipeline, x, true_logit) for _ in range(4)]
    assert torch.allclose(averaged, torch.stack(samples).mean(0), atol=1e-6)
    assert not torch.allclose(averaged, samples[0], atol=1e-3), "the samples differ, so averaging must change the gradient"


def test_adaptive_queries_a_randomized_stack_eot_samples_times(natural_cnn, batch):
    x, y = batch
    calls = {}
    for samples in (1, 4):
        noise = Noise()
        result = craft("adaptive", pgd(steps=3), natural_cnn, stack(noise), x, y, EPS, generator=seeded(), eot_samples=samples)
        assert within_ball(result.x_adv, x, EPS, pgd().norm)
        calls[samples] = noise.calls
    assert calls[4] > 3 * calls[1]


def test_adaptive_flags_are_the_real_pipelines(natural_cnn, batch):
    x, y = batch
    result = craft("adaptive", pgd(), natural_cnn, stack(Smooth(), Quantise()), x, y, EPS, generator=seeded())
    with torch.no_grad():
        assert torch.equal(result.success, natural_cnn(Quantise().purify(Smooth().purify(result.x_adv))).argmax(1) != y)
    assert result.success.any()


@pytest.mark.parametrize("settings, message", [
    (dict(gradient="exact"), "unknown gradient mode"), (dict(eot_samples=0), "eot_samples"),
    (dict(select="first"), "unknown selection 'first'.*best"), (dict(start="clean"), "unknown start 'clean'.*oblivious"),
    (dict(relu_beta=0.0), "relu_beta"), (dict(aux_lam=2.0), "aux_lam must be"),
])
def test_bad_adaptive_settings(settings, message, natural_cnn, batch):
    with pytest.raises(InvalidInputError, match=message):
        craft("adaptive", pgd(), natural_cnn, stack(Noise(), Aux()), *batch, EPS, **settings)


def test_adaptive_with_oblivious_start_and_best_iterate_fools_whatever_the_oblivious_attack_fools(natural_cnn, batch):
    """Selection on the real pipeline, starting from the attack on C: the adaptive attack cannot be the weaker one."""
    x, y = batch
    defenses = stack(Quantise())
    oblivious = craft("oblivious", pgd(), natural_cnn, defenses, x, y, EPS, generator=seeded())
    with torch.no_grad():
        oblivious_fooled = natural_cnn(Quantise().purify(oblivious.x_adv)).argmax(1) != y
    adaptive = craft("adaptive", pgd(steps=8), natural_cnn, defenses, x, y, EPS, generator=seeded(), gradient="bpda",
                     select="best", start="oblivious")
    assert (adaptive.success >= oblivious_fooled).all()


def test_adaptive_defaults_are_best_iterate_oblivious_start_and_smooth_relu_curvature(natural_cnn, batch):
    x, y = batch
    defenses = stack(Smooth(), Quantise())
    default = craft("adaptive", pgd(), natural_cnn, defenses, x, y, EPS, generator=seeded())
    explicit = craft("adaptive", pgd(), natural_cnn, defenses, x, y, EPS, generator=seeded(), select="best",
                     start="oblivious", relu_beta=10.0)
    last = craft("adaptive", pgd(), natural_cnn, defenses, x, y, EPS, generator=seeded(), select="last", start="random")
    assert torch.equal(default.x_adv, explicit.x_adv) and not torch.equal(default.x_adv, last.x_adv)


def test_adaptive_aux_lam_needs_an_iterative_attack(natural_cnn, batch):
    with pytest.raises(InvalidInputError, match="iterative attacks"):
        craft("adaptive", ATTACKS.create("deepfool", steps=2), natural_cnn, stack(Aux()), *batch, EPS, aux_lam=0.5)


def test_adaptive_runs_other_attacks_as_given(natural_cnn, batch):
    x, y = batch
    deepfool = ATTACKS.create("deepfool", steps=3)
    crafted = craft("adaptive", deepfool, natural_cnn, stack(Smooth()), x, y, EPS)
    assert torch.equal(crafted.x_adv, deepfool(lambda t: natural_cnn(Smooth().purify(t)), x, y, EPS).x_adv)


def test_adaptive_aux_lam_adds_the_stages_aux_loss(natural_cnn, batch):
    """With aux_lam=1 the classifier is ignored: the attack only lowers the auxiliary loss (distance from grey)."""
    x, y = batch
    result = craft("adaptive", pgd(), natural_cnn, stack(Aux()), x, y, EPS, generator=seeded(), aux_lam=1.0)
    assert (result.x_adv - 0.5).abs().mean() < (x - 0.5).abs().mean()


def test_auxaware_with_lambda_zero_is_plain_pgd(natural_cnn, batch):
    x, y = batch
    crafted = craft("auxaware", pgd(), natural_cnn, stack(Aux()), x, y, EPS, lam=0.0, generator=seeded())
    assert torch.equal(crafted.x_adv, pgd()(natural_cnn, x, y, EPS, generator=seeded()).x_adv)


def test_auxaware_with_lambda_one_ignores_the_classifier(natural_cnn, mnist, batch):
    x, y = batch
    torch.manual_seed(1)
    other = ARCHS.create("smallcnn", num_classes=10, image_shape=mnist.image_shape, mean=[0.5], std=[0.5]).eval()
    first = craft("auxaware", pgd(), natural_cnn, stack(Aux()), x, y, EPS, lam=1.0, generator=seeded())
    second = craft("auxaware", pgd(), other, stack(Aux()), x, y, EPS, lam=1.0, generator=seeded())
    assert torch.equal(first.x_adv, second.x_adv)
    assert (Aux().aux_loss(first.x_adv) < Aux().aux_loss(x)).all(), "the attack makes inputs look clean to the defense"


def test_auxaware_sums_the_stages_aux_losses(natural_cnn, batch):
    x, y = batch
    run = lambda defenses: craft("auxaware", pgd(), natural_cnn, defenses, x, y, EPS, lam=0.5, generator=seeded()).x_adv  # noqa: E731
    twice = run(stack(Aux(), Aux()))
    assert torch.equal(twice, run(stack(DoubleAux())))
    assert not torch.equal(twice, run(stack(Aux())))


class RecordingAux(Aux):
    """Remembers the input its auxiliary loss was evaluated on."""

    def aux_loss(self, x):
        self.seen = x.detach().clone()
        return super().aux_loss(x)


def test_auxaware_evaluates_each_aux_loss_on_its_stages_own_input(natural_cnn, batch):
    """Eq. 2 on quantise+aux: the aux loss sees the quantised input, and its gradient crosses the quantiser straight through."""
    from attacks.threats.aux_loss import AuxAwareLoss

    x, y = batch
    quantised = Quantise().purify(x)
    assert not torch.equal(quantised, x), "the two stages' inputs must differ for the check to mean anything"
    recorder = RecordingAux()
    loss = AuxAwareLoss(stack(Quantise(), recorder), lam=1.0)
    grad = input_gradient(lambda v: v, x, lambda v: loss(natural_cnn, v, y))
    assert torch.equal(recorder.seen, quantised)
    expected = input_gradient(lambda v: v, quantised, lambda v: -Aux().aux_loss(v))  # BPDA: d purify / dx = identity
    assert torch.allclose(grad, expected)
    assert not torch.allclose(grad, input_gradient(lambda v: v, x, lambda v: -Aux().aux_loss(v)))


def test_auxaware_runs_no_stage_at_lambda_zero(natural_cnn, batch):
    from attacks.threats.aux_loss import AuxAwareLoss

    noise = Noise()
    AuxAwareLoss(stack(noise, Aux()), lam=0.0)(natural_cnn, *batch)
    assert noise.calls == 0


@pytest.mark.parametrize("defenses, lam, attack, message", [
    (lambda: stack(Smooth()), 0.5, "pgd", "exposing aux_loss"),
    (lambda: None, 0.5, "pgd", "exposing aux_loss"),
    (lambda: stack(Aux()), None, "pgd", r"has a lambda axis and needs lam"),
    (lambda: stack(Aux()), 1.5, "pgd", r"lam must be a number in \[0, 1\]"),
    (lambda: stack(Aux()), 0.5, "deepfool", "iterative engine"),
])
def test_auxaware_errors(defenses, lam, attack, message, natural_cnn, batch):
    with pytest.raises(InvalidInputError, match=message):
        craft("auxaware", ATTACKS.create(attack), natural_cnn, defenses(), *batch, EPS, lam=lam)


def test_lambda_belongs_to_auxaware_only(natural_cnn, batch):
    with pytest.raises(InvalidInputError, match="lam applies to threats with a lambda axis"):
        craft("oblivious", pgd(), natural_cnn, None, *batch, EPS, lam=0.5)


@pytest.mark.parametrize("attack", ["pgd", "mim", "cw", "deepfool", "autoattack", "ssp"])
@pytest.mark.parametrize("defended", [True, False])
def test_blackbox_refuses_gradient_attacks(attack, defended, natural_cnn, batch):
    with pytest.raises(InvalidInputError, match="score-based attacks only"):
        craft("blackbox", ATTACKS.create(attack), natural_cnn, stack(Quantise()) if defended else None, *batch, EPS)


def test_blackbox_square_queries_the_whole_pipeline(natural_cnn, batch):
    x, y = batch
    noise = Noise()
    result = craft("blackbox", ATTACKS.create("square", n_queries=30), natural_cnn, stack(Quantise(), noise), x, y, EPS,
                   generator=seeded())
    assert noise.calls > 30 and within_ball(result.x_adv, x, EPS, ATTACKS.create("square").norm)


def test_query_only_target_exposes_no_gradient(natural_cnn, batch):
    x, _ = batch
    assert not QueryOnly(natural_cnn)(x.clone().requires_grad_(True)).requires_grad


def test_adaptive_apgd_runs_on_the_pipeline_with_real_flags(natural_cnn, batch):
    x, y = batch
    result = craft("adaptive", ATTACKS.create("apgd", n_iter=5), natural_cnn, stack(Quantise()), x, y, EPS, generator=seeded())
    assert within_ball(result.x_adv, x, EPS, pgd().norm)
    with torch.no_grad():
        assert torch.equal(result.success, natural_cnn(Quantise().purify(result.x_adv)).argmax(1) != y)
    assert result.success.any()
