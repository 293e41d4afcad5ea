"""How many worker processes run jobs, and how many torch threads each: never more threads than cores.

Two torch threads per process on a machine whose cores are already busy spin
against each other (a madry epoch took 110 s with two threads against 11 s with
one on a 2-core machine at load average 3.5).  So the policy is a budget:
``workers x threads <= cores``.  Whatever the spec or the command line leaves
unset is chosen to fit it; a pair given explicitly that exceeds it is refused.

- workers: one per GPU on CUDA; on the CPU, as many as the cores allow at the
  spec's ``threads`` (one thread each when ``threads`` is unset).
- threads: ``cores // workers``, at least one, and at most ``OMP_NUM_THREADS``
  when that is set (the usual way to ask for fewer threads on a shared machine).
- ``run_bench.py train`` (one process): every core, at most ``OMP_NUM_THREADS``.

``PUREBENCH_WORKERS`` sets the default worker count where no flag or spec key
does (the test suite sets 1: its processes already run side by side).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from bench.errors import UserError

WORKERS_ENV = "PUREBENCH_WORKERS"


class ThreadBudgetError(UserError, ValueError):
    """Workers and threads asked for that together exceed the cores."""


@dataclass(frozen=True)
class Parallelism:
    workers: int
    threads: int  # torch intra-op threads per worker process
    cores: int

    def describe(self) -> str:
        return f"{self.workers} worker(s) x {self.threads} torch thread(s) on {self.cores} core(s)"


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _env_workers() -> int | None:
    value = os.environ.get(WORKERS_ENV)
    if not value:
        return None
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise UserError(f"{WORKERS_ENV}={value!r} is not a positive number of worker processes; set it to 1 or more, or unset it")
    return workers


def resolve_parallelism(device: torch.device, workers: int | None = None, threads: int | None = None,
                        cores: int | None = None, gpus: int | None = None) -> Parallelism:
    """Workers and threads per worker for a run on ``device``: those given, the rest chosen within the core budget."""
    cores = cores or cpu_cores()
    if workers is not None and workers < 1:
        raise UserError(f"workers must be >= 1, got {workers}")
    if threads is not None and threads < 1:
        raise UserError(f"threads must be >= 1, got {threads}")
    if workers is None:
        workers = _env_workers()
    if workers is not None and threads is not None and workers > 1 and workers * threads > cores:
        raise ThreadBudgetError(f"{workers} workers x {threads} threads exceed the {cores} cores of this machine and would "
                                f"slow every job; lower --workers to {max(1, cores // threads)} or set threads = "
                                f"{max(1, cores // workers)}")
    if workers is None:
        if device.type == "cuda":
            workers = gpus if gpus is not None else max(1, torch.cuda.device_count())
        else:
            workers = max(1, cores // (threads or 1))
    if threads is None:
        threads = min(max(1, cores // workers), _omp_threads() or cores)
    return Parallelism(workers=workers, threads=threads, cores=cores)


def _omp_threads() -> int | None:
    """``OMP_NUM_THREADS`` when it is a positive number: the user's cap on threads per process."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def single_process_threads() -> int:
    """Threads for one process doing one thing (``train``): every core, at most ``OMP_NUM_THREADS``."""
    return resolve_parallelism(torch.device("cpu"), workers=1).threads


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (unchanged when None), then restore the caller's count."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
