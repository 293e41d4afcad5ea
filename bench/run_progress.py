"""A progress bar over the jobs of a run: ETA, the job being run, failures as they happen."""

from __future__ import annotations

from tqdm.auto import tqdm

from bench.jobs import Job, Outcome, Status

LABEL_WIDTH = 70


class Progress:
    def __init__(self, total: int, enabled: bool = True) -> None:
        self.bar = tqdm(total=total, unit="job", disable=not enabled, dynamic_ncols=True,
                        bar_format="{l_bar}{bar:20}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}")
        self.running: dict[str, str] = {}

    def started(self, job: Job) -> None:
        self.running[job.key] = job.label
        self._describe()

    def finished(self, job: Job, outcome: Outcome) -> None:
        self.running.pop(job.key, None)
        self.bar.update(1)
        if outcome.status is Status.FAILED:
            first_line = (outcome.error or "").splitlines()[0] if outcome.error else ""
            self.bar.write(f"failed: {job.label}: {first_line}")
        self._describe()

    def _describe(self) -> None:
        labels = list(self.running.values())
        text = labels[0] if labels else ""
        text = text if len(text) <= LABEL_WIDTH else text[: LABEL_WIDTH - 1] + "…"
        more = f" (+{len(labels) - 1} running)" if len(labels) > 1 else ""
        self.bar.set_postfix_str(text + more, refresh=True)

    def close(self) -> None:
        self.bar.close()
