"""Measured behaviour of a defense stage: what its declared flags claim, checked on a few examples.

AutoAttack's ``checks.py`` warns about randomness, zero gradients and
probabilities in place of logits; these probes measure the same things and
return the numbers, so both the plugin contract check (``defenses.testing``)
and the audit judge a stage by one implementation.  Each probe returns a
small frozen record with the measured value and the tolerance it was read
against (``TOLERANCE`` unless given); deciding what a value means for a
verdict is the caller's business.

A probe is deterministic under the ``generator`` it is given (a CPU
generator seeded 0 when none is): the inputs it draws come from it, and the
stage's own random draws (from torch's global generators) are seeded from it
inside a forked random state, so the caller's random state is left untouched.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import InvalidInputError

Purifier = Callable[[torch.Tensor], torch.Tensor]

#: Differences up to this are read as equal: float round-off, not behaviour (GPU kernels are not bit-reproducible).
TOLERANCE = 1e-5


@dataclass(frozen=True)
class RandomnessProbe:
    """Two identical calls of ``purify`` on the same batch: how far apart their outputs are."""

    max_abs_difference: float
    tolerance: float = TOLERANCE

    @property
    def randomized(self) -> bool:
        return self.max_abs_difference > self.tolerance


@dataclass(frozen=True)
class GradientProbe:
    """Shares of examples whose input gradient of the classifier's CE loss through ``purify`` is unusable.

    ``zero``: every entry exactly zero (also when ``purify``'s output is not
    connected to its input at all); ``nan`` and ``infinite``: some entry is.
    """

    zero: float
    nan: float
    infinite: float
    unavailable: float  # share of examples with any of the three: nothing for a gradient attack to follow
    n: int


@dataclass(frozen=True)
class BatchDependenceProbe:
    """How far ``purify(x)[i]`` moves when the other examples of the batch are replaced."""

    max_abs_difference: float
    tolerance: float = TOLERANCE

    @property
    def batch_dependent(self) -> bool:
        return self.max_abs_difference > self.tolerance


@dataclass(frozen=True)
class ProbabilityProbe:
    """Share of the classifier's output rows that are non-negative and sum to 1 (probabilities, not logits)."""

    share: float
    max_sum_deviation: float  # largest |row sum - 1| over all rows
    tolerance: float = TOLERANCE

    @property
    def probabilities(self) -> bool:
        return self.share == 1.0


def probe_randomness(purify: Purifier, x: torch.Tensor, *, generator: torch.Generator | None = None,
                     tolerance: float = TOLERANCE) -> RandomnessProbe:
    """Call ``purify(x)`` twice in a row, as evaluation does (no autograd), and compare the outputs."""
    with _seeded_from(generator), torch.no_grad():
        first = purify(x)
        second = purify(x)
    return RandomnessProbe(_max_abs(first, second), tolerance)


def probe_gradients(purify: Purifier, classifier: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *,
                    generator: torch.Generator | None = None) -> GradientProbe:
    """Plain autograd of CE(classifier(purify(x)), y) in ``x``, the pipeline taken as declared differentiable.

    ``y`` defaults to the classifier's own predictions on ``x``.
    """
    if y is None:
        with torch.no_grad():
            y = classifier(x).argmax(1)
    x = x.detach().clone().requires_grad_(True)
    with _seeded_from(generator), torch.enable_grad():
        out = purify(x)
        grad = None
        if out.requires_grad:
            loss = F.cross_entropy(classifier(out), y, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(x)
    flat = grad.detach().flatten(1)
    zero, nan, infinite = (flat == 0).all(1), flat.isnan().any(1), flat.isinf().any(1)
    return GradientProbe(zero=_share(zero), nan=_share(nan), infinite=_share(infinite),
                         unavailable=_share(zero | nan | infinite), n=len(flat))


def probe_batch_dependence(purify: Purifier, x: torch.Tensor, *, generator: torch.Generator | None = None,
                           tolerance: float = TOLERANCE) -> BatchDependenceProbe:
    """Purify ``x``, then ``x`` with its second half replaced by uniform noise; compare the first half's outputs.

    Both calls start from the same random state, so a randomized stage that
    draws per-example noise is not mistaken for a batch-dependent one.
    """
    if len(x) < 2:
        raise InvalidInputError(f"probe_batch_dependence needs a batch of at least 2 examples, got {len(x)}")
    keep = len(x) // 2 + len(x) % 2
    generator = _or_default(generator)
    seed = _draw_seed(generator)
    others = torch.rand(x[keep:].shape, generator=generator, device=generator.device).to(device=x.device, dtype=x.dtype)
    changed = torch.cat([x[:keep], others])
    with torch.no_grad():
        with _seeded(seed):
            first = purify(x)[:keep]
        with _seeded(seed):
            second = purify(changed)[:keep]
    return BatchDependenceProbe(_max_abs(first, second), tolerance)


def probe_probabilities(classifier: nn.Module, x: torch.Tensor, *, tolerance: float = TOLERANCE) -> ProbabilityProbe:
    """Does ``classifier(x)`` return rows that are non-negative and sum to 1 (within ``tolerance``)?"""
    with torch.no_grad():
        out = classifier(x).detach().double()
    deviation = (out.sum(1) - 1).abs()
    rows = (out >= 0).all(1) & (deviation <= tolerance)
    return ProbabilityProbe(_share(rows), float(deviation.max()), tolerance)


def _max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max()) if a.numel() else 0.0


def _share(flags: torch.Tensor) -> float:
    return float(flags.double().mean()) if flags.numel() else 0.0


def _or_default(generator: torch.Generator | None) -> torch.Generator:
    return generator if generator is not None else torch.Generator().manual_seed(0)


def _draw_seed(generator: torch.Generator | None) -> int:
    generator = _or_default(generator)
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """torch's global generators seeded with ``seed`` inside, the caller's random state restored after."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def _seeded_from(generator: torch.Generator | None) -> Iterator[None]:
    with _seeded(_draw_seed(generator)):
        yield
