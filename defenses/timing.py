"""Timing of defenses in the form of Table 2: training seconds, purification seconds per image, throughput.

Purification is timed as evaluation calls it, under ``torch.no_grad``: once per
image at batch size 1 (the paper's "purification time"), and at a large batch
(images per second, what a benchmark run actually pays).  The large batch can
be one the caller has already timed (``BatchClock``): the runner passes its
clean evaluation's own purification, so the slowest purifiers are not run over
a second large batch just to be timed.  On a GPU the device is synchronised
before each clock reading so queued kernels are counted.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch

from bench.errors import InvalidInputError
from defenses.base import Defense, FitContext

Purifier = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class PurificationTiming:
    """Wall-clock and CPU figures of the same calls: on a shared machine wall time includes waiting for the cores,
    the process's CPU time does not (it sums over threads, and misses GPU work)."""

    seconds_per_image: float  # batch size 1, mean over ``single_images`` calls
    images_per_second: float  # at ``batch_size``
    cpu_seconds_per_image: float
    images_per_cpu_second: float
    single_images: int
    batch_size: int
    device: str
    seconds_per_image_sd: float = math.nan  # the standard deviation of those ``single_images`` calls' seconds


@dataclass(frozen=True)
class BatchClock:
    """Wall-clock and process CPU seconds of purifying ``images`` images in calls of at most ``batch_size``."""

    images: int
    batch_size: int
    seconds: float
    cpu_seconds: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds(purify: Purifier, x: torch.Tensor) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one call."""
    _sync(x.device)
    begin, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        purify(x)
    _sync(x.device)
    return time.perf_counter() - begin, time.process_time() - cpu


def time_purification(purify: Purifier, x: torch.Tensor, *, batch_size: int = 256, single_images: int = 16,
                      warmup: int = 1, warm_batch: bool = True, timed_batch: BatchClock | None = None) -> PurificationTiming:
    """Time ``purify`` (a defense's or a stack's) on images ``x`` already on the device to measure.

    ``warmup`` untimed calls at batch size 1 come first (first-call costs such
    as lazy allocation are not purification time).  The large batch is the
    first ``batch_size`` images of ``x``, tiled when ``x`` has fewer, so the
    throughput is always measured at ``batch_size``; it gets one untimed call
    first unless ``warm_batch`` is False.  ``timed_batch``: the throughput is
    that clock's instead, and no large batch is run (``batch_size`` and
    ``warm_batch`` are then unused).
    """
    if x.ndim != 4 or len(x) == 0:
        raise InvalidInputError(f"time_purification needs a non-empty (N, C, H, W) batch, got shape {tuple(x.shape)}")
    if batch_size < 1 or single_images < 1 or warmup < 0:
        raise InvalidInputError("batch_size and single_images must be >= 1 and warmup >= 0")
    for i in range(warmup):
        _seconds(purify, x[i % len(x)].unsqueeze(0))
    singles = [_seconds(purify, x[i % len(x)].unsqueeze(0)) for i in range(single_images)]
    if timed_batch is None:
        batch = x.repeat(-(-batch_size // len(x)), 1, 1, 1)[:batch_size]
        if warm_batch:
            _seconds(purify, batch)
        timed_batch = BatchClock(batch_size, batch_size, *_seconds(purify, batch))
    walls = [w for w, _ in singles]
    return PurificationTiming(statistics.fmean(walls), _rate(timed_batch.images, timed_batch.seconds),
                              sum(c for _, c in singles) / single_images, _rate(timed_batch.images, timed_batch.cpu_seconds),
                              single_images, timed_batch.batch_size, str(x.device),
                              statistics.stdev(walls) if single_images > 1 else math.nan)


def _rate(images: int, seconds: float) -> float:
    """Images per second; infinite for a call too fast for the clock (the identity stack on a coarse CPU clock)."""
    return images / seconds if seconds > 0 else math.inf


def time_fit(defense: Defense, ctx: FitContext) -> float:
    """Seconds spent in ``defense.fit(ctx)`` (Table 2's training time, attacks included)."""
    _sync(ctx.device)
    begin = time.perf_counter()
    defense.fit(ctx)
    _sync(ctx.device)
    return time.perf_counter() - begin
