"""Progress of a run, weighted by estimated cost: a bar on a terminal, plain log lines otherwise.

A job counts for its estimated seconds (``bench.run_costs``), not for one, so
the ETA does not jump when a long training follows a hundred evaluations.  A
running job counts for the fraction it reports (``bench.job_progress``:
a craft's batches and passes, a training's epochs and batches) and shows
where it is; one that reports nothing shows its elapsed time against its
estimate.  Each
worker's current job is shown: on a terminal one status line per worker under
the bar, elsewhere (a log file, CI) a line per finished job and, every
``interval`` seconds, one line per running job, without carriage returns.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Mapping, TextIO

from tqdm.auto import tqdm

from bench.jobs import Job, Outcome, Status

LABEL_WIDTH = 60
REFRESH_SECONDS = 1.0  # terminal refresh, so elapsed times move while a long job reports nothing
LOG_INTERVAL_SECONDS = 30.0  # how often a non-terminal log says what is running


@dataclass
class Running:
    label: str
    worker: int
    estimate: float
    since: float
    fraction: float | None = None
    detail: str = ""  # where inside the job: ``batch 2/3, pass 31/~40``


def clock_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _short(text: str, width: int = LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Progress:
    def __init__(self, costs: Mapping[str, float], workers: int = 1, enabled: bool = True, stream: TextIO | None = None,
                 terminal: bool | None = None, interval: float = LOG_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.costs, self.workers, self.enabled = dict(costs), workers, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.interval, self.clock = interval, clock
        self.total_cost = sum(self.costs.values()) or 1.0
        self.jobs, self.jobs_done, self.cost_done = len(self.costs), 0, 0.0
        self.running: dict[str, Running] = {}
        self.begin = self.last_log = clock()
        self.lock = threading.Lock()
        self.bar: tqdm | None = None
        self.lines: list[tqdm] = []
        if enabled and self.terminal:
            self.bar = tqdm(total=self.total_cost, file=self.stream, smoothing=0, dynamic_ncols=True,
                            bar_format="{l_bar}{bar:20}| {postfix} [{elapsed}<{remaining}]")
            self.lines = [tqdm(total=0, file=self.stream, position=i + 1, bar_format="{desc}", leave=False)
                          for i in range(workers if workers > 1 else 0)]
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick_loop, daemon=True) if enabled else None
        if self.ticker is not None:
            self.ticker.start()

    # -- events from the executor ----------------------------------------------

    def started(self, job: Job, worker: int = 0) -> None:
        with self.lock:
            self.running[job.key] = Running(job.label, worker, self.costs.get(job.key, 0.0), self.clock())
            self._show()

    def advanced(self, key: str, fraction: float, detail: str = "") -> None:
        """The running job ``key`` reports ``fraction`` (0 to 1) of its work done, and where it is."""
        with self.lock:
            if key in self.running:
                self.running[key].fraction = min(max(fraction, 0.0), 1.0)
                self.running[key].detail = detail
                self._show()

    def finished(self, job: Job, outcome: Outcome) -> None:
        with self.lock:
            run = self.running.pop(job.key, None)
            self.jobs_done += 1
            self.cost_done += self.costs.get(job.key, 0.0)
            if outcome.status is Status.FAILED:
                first_line = (outcome.error or "").splitlines()[0] if outcome.error else ""
                self._write(f"failed: {job.label}: {first_line}")
            elif self.enabled and not self.terminal:
                took = f" ({outcome.seconds:.1f} s)" if run is not None else ""
                self._write(f"{self._status()} {outcome.status.value} {job.label}{took}")
            self._show()

    def close(self) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join(timeout=5)
        with self.lock:
            for line in self.lines:
                line.close()
            if self.bar is not None:
                self.bar.close()
            self.bar, self.lines = None, []

    # -- what is shown ---------------------------------------------------------------

    def done_fraction(self) -> float:
        """Estimated fraction of the run's work done: finished jobs and the reported part of running ones."""
        partial = sum(r.estimate * (r.fraction or 0.0) for r in self.running.values())
        return min((self.cost_done + partial) / self.total_cost, 1.0)

    def eta(self) -> float | None:
        """Seconds left at the rate so far (None before anything measurable is done)."""
        fraction, elapsed = self.done_fraction(), self.clock() - self.begin
        return elapsed * (1 - fraction) / fraction if fraction > 0 else None

    def activity(self) -> list[str]:
        """One line per running job: its worker, label and how far it is."""
        now = self.clock()
        lines = []
        for run in sorted(self.running.values(), key=lambda r: r.worker):
            elapsed = now - run.since
            how_far = f"{run.fraction:.0%}, " if run.fraction is not None and not run.detail else ""
            where = f"  {run.detail}" if run.detail else ""
            lines.append(f"w{run.worker + 1}: {_short(run.label)}{where} "
                         f"({how_far}{clock_text(elapsed)} of ~{clock_text(run.estimate)})")
        return lines

    def _status(self) -> str:
        eta = self.eta()
        left = f", ~{clock_text(eta)} left" if eta is not None else ""
        return (f"[{self.done_fraction():4.0%} of est. cost, {self.jobs_done}/{self.jobs} jobs, "
                f"{clock_text(self.clock() - self.begin)} elapsed{left}]")

    def _write(self, text: str) -> None:
        if not self.enabled and not text.startswith("failed:"):
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def _show(self) -> None:
        if self.bar is None:
            return
        value = self.done_fraction() * self.total_cost
        if value > self.bar.n:
            self.bar.update(value - self.bar.n)
        activity = self.activity()
        if self.lines:
            for i, line in enumerate(self.lines):
                mine = [a for a in activity if a.startswith(f"w{i + 1}:")]
                line.set_description_str(mine[0] if mine else f"w{i + 1}: idle", refresh=True)
            self.bar.set_postfix_str(f"{self.jobs_done}/{self.jobs} jobs", refresh=True)
        else:
            running = activity[0].split(": ", 1)[1] if activity else ""
            self.bar.set_postfix_str(f"{self.jobs_done}/{self.jobs} jobs {running}".rstrip(), refresh=True)

    def _tick_loop(self) -> None:
        while not self.stop.wait(REFRESH_SECONDS if self.terminal else min(self.interval, REFRESH_SECONDS * 5)):
            with self.lock:
                if self.terminal:
                    self._show()
                elif self.running and self.clock() - self.last_log >= self.interval:
                    self.last_log = self.clock()
                    self._write(f"{self._status()} running:")
                    for line in self.activity():
                        self._write(f"  {line}")
