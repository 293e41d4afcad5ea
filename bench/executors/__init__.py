"""Executors: run a schedule of jobs and hand each outcome to the driver's hooks.

``local`` runs jobs in worker processes on this machine (in this process with
one worker); ``ray`` runs them as tasks on a Ray cluster.  Either way the
driver alone writes the results store.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

from bench.data import DatasetSplits
from bench.errors import UserError
from bench.executors.hooks import Hooks
from bench.executors.local import LocalExecutor
from bench.executors.ray_executor import RayExecutor
from bench.run_context import ContextSettings
from bench.run_schedule import Schedule


class Executor(Protocol):
    def run(self, schedule: Schedule, settings: ContextSettings, hooks: Hooks, datasets: Mapping[str, DatasetSplits]) -> None:
        """Run every job of ``schedule``; ``datasets`` were loaded by the planner (in-process executors reuse them)."""


def _ray(ray_address: str | None, _workers: int) -> Executor:
    return RayExecutor(address=ray_address)


def _local(_address: str | None, workers: int) -> Executor:
    return LocalExecutor(workers)


EXECUTORS: dict[str, Callable[[str | None, int], Executor]] = {"local": _local, "ray": _ray}


def check_executor(name: str, ray_address: str | None = None) -> None:
    """Refuse an unknown executor, or a Ray address for another executor (a dry run checks this too)."""
    if name not in EXECUTORS:
        raise UserError(f"unknown executor {name!r}; use one of: {', '.join(EXECUTORS)}")
    if ray_address is not None and name != "ray":
        raise UserError("--ray-address needs --executor ray")


def make_executor(name: str, ray_address: str | None = None, workers: int = 1) -> Executor:
    """``workers``: processes of the local executor (a Ray cluster sizes itself from its resources)."""
    check_executor(name, ray_address)
    return EXECUTORS[name](ray_address, workers)
