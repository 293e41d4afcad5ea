"""Where a running job is, for its worker's progress line: nested counters (``batch 2/3, pass 31/~40``), throttled.

A long job calls ``part`` around each outer unit of its work (a craft's
batch, a training's epoch) and ``tick`` for the inner units (forward passes
of an attack, batches of an epoch).  Each call costs a clock read; a message
goes to the listener at most once per ``interval`` seconds, so the attack
loop's cost does not change.  With nobody listening (``JobProgress()``) every
call returns at once.  The listener is the executor's channel to the driver,
which alone shows progress and writes the store.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

Listener = Callable[[float, str], None]  # (fraction of the job done, what it is doing)
SEND_INTERVAL_SECONDS = 0.5  # at most two messages a second per worker


@dataclass
class _Counter:
    name: str
    done: int
    total: int | None
    approximate: bool = False  # the total is an expectation (an attack may stop early or query more)
    shown_from_one: bool = False  # a part: the ``done``-th unit is under way, shown as ``done + 1``

    def text(self) -> str:
        shown = self.done + 1 if self.shown_from_one else self.done
        if self.total is None:
            return f"{self.name} {shown}"
        return f"{self.name} {shown}/{'~' if self.approximate else ''}{self.total}"

    def fraction(self) -> float | None:
        return min(self.done, self.total) / self.total if self.total else None


class JobProgress:
    def __init__(self, listener: Listener | None = None, interval: float = SEND_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.listener, self.interval, self.clock = listener, interval, clock
        self._parts: list[_Counter] = []
        self._leaf: _Counter | None = None
        self._counted = 0
        self._last = -math.inf

    @property
    def listening(self) -> bool:
        return self.listener is not None

    @contextmanager
    def part(self, name: str, index: int, total: int | None) -> Iterator[None]:
        """Inside the ``with``: unit ``index`` (0-based) of ``total`` ``name``s is under way."""
        if self.listener is None:
            yield
            return
        depth = len(self._parts)
        self._parts.append(_Counter(name, index, total, shown_from_one=True))
        self._leaf, self._counted = None, 0
        self._maybe_send(self.clock())
        try:
            yield
        finally:
            del self._parts[depth:]
            self._leaf, self._counted = None, 0

    def tick(self, name: str, done: int, total: int | None = None, approximate: bool = False) -> None:
        """``done`` of ``total`` ``name``s finished inside the innermost part."""
        if self.listener is None:
            return
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._leaf = _Counter(name, done, total, approximate)
        self._maybe_send(now)

    def count(self, name: str, total: int | None = None, approximate: bool = False) -> None:
        """One more ``name`` finished inside the innermost part (counted from zero at each part's start)."""
        if self.listener is None:
            return
        self._counted += 1
        self.tick(name, self._counted, total, approximate)

    def fraction(self) -> float:
        """The job's fraction done: each level's share of the unit of the level above it."""
        done, scale = 0.0, 1.0
        for counter in [*self._parts, *([self._leaf] if self._leaf else [])]:
            share = counter.fraction()
            if share is None:
                break
            done += scale * share
            scale /= counter.total or 1
        return min(done, 1.0)

    def text(self) -> str:
        return ", ".join(c.text() for c in [*self._parts, *([self._leaf] if self._leaf else [])])

    def _maybe_send(self, now: float) -> None:
        if self.listener is not None and now - self._last >= self.interval:
            self._last = now
            self.listener(self.fraction(), self.text())
