"""Which jobs may start: those whose dependencies are all done; dependents of a failure are skipped.

Shared by every executor, so the local and the Ray executor order, skip and
finish jobs by the same rules.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

from bench.jobs import Job


class Schedule:
    def __init__(self, jobs: Sequence[Job], done: Iterable[str]) -> None:
        self.done = set(done)
        self.pending = {job.key: job for job in jobs if job.key not in self.done}  # plan (topological) order
        self.started: set[str] = set()
        self.dependents: dict[str, list[str]] = defaultdict(list)
        for job in self.pending.values():
            for dep in job.deps:
                self.dependents[dep].append(job.key)

    def __len__(self) -> int:
        return len(self.pending)

    def ready(self) -> list[Job]:
        """Jobs not started yet whose dependencies are all done, in plan order."""
        return [job for key, job in self.pending.items()
                if key not in self.started and all(dep in self.done for dep in job.deps)]

    def start(self, job: Job) -> None:
        self.started.add(job.key)

    def finish(self, key: str, ok: bool) -> list[Job]:
        """Mark ``key`` finished; when it failed, returns its pending dependents (transitively), now skipped."""
        self.pending.pop(key, None)
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
