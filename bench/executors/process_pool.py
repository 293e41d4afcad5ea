"""Worker processes for the local executor: spawned (never forked: torch and fork do not mix), one job at a time each.

Each worker holds one ``RunContext`` for its whole life, so classifiers and
fitted stages are loaded once per worker, not once per job.  The datasets the
planner loaded reach the workers through shared memory (torch's
multiprocessing reductions), not by loading them again.  Jobs travel with
cloudpickle, so an ``nn.Module`` or ``Defense`` defined in a notebook or a test
reaches the workers too.

A worker whose driver dies (SIGKILL included) exits within a second instead of
finishing work nobody will record.  A worker that dies is a failed job (rerun
the spec to retry it), replaced by a fresh worker; the other jobs go on.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import cloudpickle
import torch
import torch.multiprocessing as torch_mp  # registers the reductions that pass tensors through shared memory

from bench.allocator import keep_freed_memory
from bench.data import DatasetSplits
from bench.job_progress import JobProgress
from bench.jobs import Job, Outcome, Status
from bench.jobs_execute import execute, now
from bench.run_context import ContextSettings, RunContext

POLL_SECONDS = 0.5  # how long the driver waits for a message before checking that its workers live
PARENT_CHECK_SECONDS = 1.0
MP = torch_mp.get_context("spawn")


@dataclass(frozen=True)
class Event:
    """A message from a worker: progress of ``job`` (``outcome`` None) or its outcome."""

    job: Job
    fraction: float = 0.0
    detail: str = ""  # what the job is doing: ``batch 2/3, pass 31/~40``
    outcome: Outcome | None = None


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def worker_main(slot: int, settings: ContextSettings, datasets: Mapping[str, DatasetSplits], inbox: Any, outbox: Any,
                parent: int) -> None:
    """A worker's life: run each job from ``inbox`` and put its messages on ``outbox``, until ``None``."""
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    keep_freed_memory()
    if settings.device != "cpu" and torch.cuda.is_available():
        torch.cuda.set_device(slot % torch.cuda.device_count())  # one GPU per worker
    ctx = RunContext(settings, datasets)
    while (payload := inbox.get()) is not None:
        job: Job = cloudpickle.loads(payload)
        ctx.job_progress = JobProgress(lambda fraction, detail, key=job.key: outbox.put(("progress", slot, key, (fraction, detail))))
        outbox.put(("done", slot, job.key, cloudpickle.dumps(execute(job, ctx))))


class WorkerPool:
    """``size`` spawned workers; the driver submits a job to an idle one and reads events back."""

    def __init__(self, size: int, settings: ContextSettings, datasets: Mapping[str, DatasetSplits]) -> None:
        self.settings, self.datasets = settings, dict(datasets)
        self.outbox = MP.Queue()
        self.processes: list[Any] = [None] * size
        self.inboxes: list[Any] = [None] * size
        self.jobs: dict[int, Job] = {}  # slot -> the job it runs
        for slot in range(size):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        self.inboxes[slot] = MP.SimpleQueue()
        process = MP.Process(target=worker_main, name=f"purebench-worker-{slot + 1}", daemon=True,
                             args=(slot, self.settings, self.datasets, self.inboxes[slot], self.outbox, os.getpid()))
        process.start()
        self.processes[slot] = process

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(graceful=exc[0] is None)

    def idle(self) -> bool:
        return len(self.jobs) < len(self.processes)

    def busy(self) -> bool:
        return bool(self.jobs)

    def submit(self, job: Job) -> int:
        """Start ``job`` on an idle worker; returns the worker's slot."""
        slot = next(s for s in range(len(self.processes)) if s not in self.jobs)
        self.jobs[slot] = job
        self.inboxes[slot].put(cloudpickle.dumps(job))
        return slot

    def events(self) -> Iterator[Event]:
        """The messages that arrive within a poll interval, then a dead worker's job as a failed outcome."""
        messages: list[tuple[str, int, str, Any]] = []
        try:
            messages.append(self.outbox.get(timeout=POLL_SECONDS))
            while True:
                messages.append(self.outbox.get_nowait())
        except queue.Empty:
            pass
        for kind, slot, key, body in messages:
            job = self.jobs.get(slot)
            if job is None or job.key != key:
                continue  # from a worker since replaced
            if kind == "progress":
                yield Event(job, fraction=body[0], detail=body[1])
            else:
                del self.jobs[slot]
                yield Event(job, outcome=cloudpickle.loads(body))
        yield from self._deaths()

    def _deaths(self) -> Iterator[Event]:
        for slot, job in list(self.jobs.items()):
            process = self.processes[slot]
            if process.exitcode is None:
                continue
            del self.jobs[slot]
            stamp = now()
            error = (f"WorkerDied: the worker process running this job exited with status {process.exitcode} "
                     "(out of memory or killed?); rerun the spec to retry it")
            self._spawn(slot)
            yield Event(job, outcome=Outcome(job.key, Status.FAILED, 0.0, stamp, stamp, "", error=error))

    def close(self, graceful: bool = True) -> None:
        """Stop the workers: let idle ones leave, terminate those still running (an interrupted run)."""
        for slot, process in enumerate(self.processes):
            if graceful and slot not in self.jobs and process.is_alive():
                self.inboxes[slot].put(None)
            else:
                process.terminate()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        self.outbox.close()
        self.outbox.join_thread()
