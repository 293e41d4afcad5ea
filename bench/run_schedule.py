"""Which jobs may start: those whose dependencies are all done; dependents of a failure are skipped.

Shared by every executor, so the local and the Ray executor order, skip and
finish jobs by the same rules.  A job another process holds (``bench.claims``)
is deferred: it is not ready until that process is done with it, and its
dependents wait for the outcome it stores.  Among the ready jobs the one heading the
longest remaining path of estimated cost goes first (critical-path
scheduling), so a long training does not start last and run alone at the end
while the other workers idle; without costs, plan order.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping, Sequence

from bench.jobs import Job


class Schedule:
    def __init__(self, jobs: Sequence[Job], done: Iterable[str], costs: Mapping[str, float] | None = None) -> None:
        self.done = set(done)
        self.pending = {job.key: job for job in jobs if job.key not in self.done}  # plan (topological) order
        self.started: set[str] = set()
        self.held: dict[str, int] = {}  # deferred jobs: key -> the session holding it
        self.held_checked = 0.0  # when the held jobs were last looked up (time.monotonic)
        self.dependents: dict[str, list[str]] = defaultdict(list)
        for job in self.pending.values():
            for dep in job.deps:
                self.dependents[dep].append(job.key)
        self.costs = {key: (costs or {}).get(key, 0.0) for key in self.pending}
        self.path_cost = self._path_costs()
        position = {key: i for i, key in enumerate(self.pending)}
        self.order = sorted(self.pending, key=lambda k: (-self.path_cost[k], position[k]))

    def _path_costs(self) -> dict[str, float]:
        """Each pending job's cost plus the costliest chain of pending jobs that waits for it."""
        path: dict[str, float] = {}
        for key in reversed(list(self.pending)):  # dependents come after their dependencies in plan order
            path[key] = self.costs[key] + max((path[d] for d in self.dependents.get(key, ()) if d in path), default=0.0)
        return path

    def __len__(self) -> int:
        return len(self.pending)

    def ready(self) -> list[Job]:
        """Jobs not started yet whose dependencies are all done, longest remaining path first."""
        return [self.pending[key] for key in self.order
                if key in self.pending and key not in self.started and key not in self.held
                and all(dep in self.done for dep in self.pending[key].deps)]

    def start(self, job: Job) -> None:
        self.started.add(job.key)

    def defer(self, job: Job, holder: int) -> None:
        """``job`` runs in session ``holder``: wait for its outcome instead of running it."""
        self.held[job.key] = holder

    def release(self, key: str) -> None:
        """The held job ``key`` was let go without an outcome: it is ready again."""
        self.held.pop(key, None)

    def finish(self, key: str, ok: bool) -> list[Job]:
        """Mark ``key`` finished; when it failed, returns its pending dependents (transitively), now skipped."""
        self.pending.pop(key, None)
        self.held.pop(key, None)
        if ok:
            self.done.add(key)
            return []
        skipped, stack = [], list(self.dependents.get(key, ()))
        while stack:
            dependent = self.pending.pop(stack.pop(), None)
            if dependent is not None:
                skipped.append(dependent)
                stack.extend(self.dependents.get(dependent.key, ()))
        return skipped

    def finished(self) -> bool:
        return not self.pending
