"""Executors: run a schedule of jobs and hand each outcome to the driver's hooks.

``local`` runs jobs one by one in this process; ``ray`` runs them as tasks on a
Ray cluster.  Either way the driver alone writes the results store.
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


def _ray(ray_address: str | None) -> Executor:
    return RayExecutor(address=ray_address)


EXECUTORS: dict[str, Callable[[str | None], Executor]] = {"local": lambda _address: LocalExecutor(), "ray": _ray}


def make_executor(name: str, ray_address: str | None = None) -> Executor:
    if name not in EXECUTORS:
        raise UserError(f"unknown executor {name!r}; use one of: {', '.join(EXECUTORS)}")
    if ray_address is not None and name != "ray":
        raise UserError("--ray-address needs --executor ray")
    return EXECUTORS[name](ray_address)
