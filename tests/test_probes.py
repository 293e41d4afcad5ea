"""The defense probes: each toy stage below triggers exactly one of them, the smoothing one none."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import InvalidInputError
from defenses.probes import (TOLERANCE, probe_batch_dependence, probe_gradients, probe_probabilities,
                             probe_randomness)


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Rounds every pixel to 8 levels: the gradient is zero almost everywhere."""
    return torch.round(x * 7) / 7


def add_noise(x: torch.Tensor) -> torch.Tensor:
    """Gaussian noise from torch's global generator, clipped to [0, 1]."""
    return (x + 0.1 * torch.randn_like(x)).clamp(0, 1)


def subtract_batch_mean(x: torch.Tensor) -> torch.Tensor:
    """Pulls each image toward the batch's mean image: depends on the other examples."""
    return (x - 0.5 * (x - x.mean(0, keepdim=True))).clamp(0, 1)


def smooth(x: torch.Tensor) -> torch.Tensor:
    """A 3x3 mean filter: deterministic, per-example, differentiable."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def classifier(softmax: bool = False) -> nn.Module:
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(3 * 8 * 8, 10)]
    return nn.Sequential(*layers, *([nn.Softmax(1)] if softmax else [])).eval()


STAGES = {"quantise": quantise, "noise": add_noise, "batch_mean": subtract_batch_mean, "smooth": smooth}
TRIGGERS = {"quantise": "gradients", "noise": "randomness", "batch_mean": "batch", "smooth": None}


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def triggered(purify, x: torch.Tensor) -> set[str]:
    generator = torch.Generator().manual_seed(0)
    found = set()
    if probe_randomness(purify, x, generator=generator).randomized:
        found.add("randomness")
    if probe_gradients(purify, classifier(), x, generator=generator).unavailable > 0:
        found.add("gradients")
    if probe_batch_dependence(purify, x, generator=generator).batch_dependent:
        found.add("batch")
    return found


@pytest.mark.parametrize("name", STAGES)
def test_each_toy_stage_triggers_exactly_its_probe(name: str, x: torch.Tensor) -> None:
    expected = {TRIGGERS[name]} - {None}
    assert triggered(STAGES[name], x) == expected


def test_quantiser_gradients_are_zero_for_every_example(x: torch.Tensor) -> None:
    probe = probe_gradients(quantise, classifier(), x)
    assert (probe.zero, probe.nan, probe.infinite, probe.unavailable, probe.n) == (1.0, 0.0, 0.0, 1.0, 6)


def test_a_detached_output_counts_as_zero_gradient(x: torch.Tensor) -> None:
    assert probe_gradients(lambda v: v.detach() * 0.5, classifier(), x).zero == 1.0


class ScaleGradient(torch.autograd.Function):
    """Identity forward; the backward pass multiplies the gradient by ``factor``."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor
        return v.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * ctx.factor, None


def test_nan_and_infinite_gradients_are_counted_per_example(x: torch.Tensor) -> None:
    def broken(v: torch.Tensor) -> torch.Tensor:  # example 0: NaN gradient; example 1: infinite; 2 and 3: zero
        factors = [float("nan"), float("inf"), 0.0, 0.0, 1.0, 1.0]
        return torch.cat([ScaleGradient.apply(v[i : i + 1], f) for i, f in enumerate(factors)])

    probe = probe_gradients(broken, classifier(), x)
    assert probe.nan == pytest.approx(1 / 6) and probe.zero == pytest.approx(2 / 6)
    assert probe.infinite == pytest.approx(1 / 6) and probe.unavailable == pytest.approx(4 / 6)


def test_noise_difference_is_measured_and_reads_against_the_tolerance(x: torch.Tensor) -> None:
    probe = probe_randomness(add_noise, x)
    assert probe.max_abs_difference > 0.05 and probe.tolerance == TOLERANCE
    assert not probe_randomness(add_noise, x, tolerance=10.0).randomized


def test_a_randomized_per_example_stage_is_not_read_as_batch_dependent(x: torch.Tensor) -> None:
    assert probe_batch_dependence(add_noise, x).max_abs_difference == 0.0


def test_batch_mean_subtraction_changes_the_kept_examples(x: torch.Tensor) -> None:
    assert probe_batch_dependence(subtract_batch_mean, x).max_abs_difference > 0.01


def test_batch_dependence_needs_two_examples(x: torch.Tensor) -> None:
    with pytest.raises(InvalidInputError, match="at least 2"):
        probe_batch_dependence(smooth, x[:1])


def test_softmax_classifier_gives_probabilities_and_a_logit_one_does_not(x: torch.Tensor) -> None:
    softmax = probe_probabilities(classifier(softmax=True), x)
    logits = probe_probabilities(classifier(), x)
    assert softmax.probabilities and softmax.share == 1.0 and softmax.max_sum_deviation < 1e-6
    assert not logits.probabilities and logits.share == 0.0


def test_probes_are_deterministic_under_a_generator_and_leave_the_global_state_alone(x: torch.Tensor) -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    runs = [probe_randomness(add_noise, x, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    other = probe_randomness(add_noise, x, generator=torch.Generator().manual_seed(8))
    assert runs[0] == runs[1] and other != runs[0]
    assert torch.equal(torch.random.get_rng_state(), before)
    assert probe_batch_dependence(subtract_batch_mean, x, generator=torch.Generator().manual_seed(3)) == \
        probe_batch_dependence(subtract_batch_mean, x, generator=torch.Generator().manual_seed(3))
