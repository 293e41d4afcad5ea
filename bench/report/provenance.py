"""Where the numbers come from: the spec, the sessions that ran it (versions, device, code revision, dates),
and which planned jobs have no result yet, so a partial run says what it lacks.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass

import pandas as pd

from bench.report.load import DONE, ReportData
from bench.report.model import MISSING, ReportTable
from bench.report.settings import PAPER_DATASETS, preset_origin
from bench.report.what_ran import WhatRan, what_ran
from defenses import parse_stack
from defenses.nrp.config import SEED_DEPARTURES

STATUSES = ("done", "failed", "skipped", "pending")


@dataclass(frozen=True)
class Provenance:
    name: str
    description: str  # the spec file's, which describes what ran only when no override changed it
    ran: WhatRan
    facts: list[tuple[str, str]]  # (what, value) in reading order
    versions: list[tuple[str, str]]
    spec_text: str
    spec_json: str
    sessions: ReportTable
    jobs: ReportTable
    missing: ReportTable | None
    complete: bool


def _description(spec_text: str) -> str:
    try:
        return str(tomllib.loads(spec_text).get("description", ""))
    except tomllib.TOMLDecodeError:
        return ""


def _utc(stamp: str | None) -> str:
    """``2026-01-01T00:00:00+00:00`` as ``2026-01-01 00:00:00`` (the store writes UTC), which wraps in a narrow cell."""
    return (stamp or "").replace("T", " ").removesuffix("+00:00")


def _short(revision: str | None) -> str:
    """A git revision abbreviated to 12 hex digits (its suffix such as ``-dirty`` kept); the facts list has it in full."""
    if not revision:
        return "unknown"
    commit, dash, suffix = revision.partition("-")
    return commit[:12] + dash + suffix


def _sessions(data: ReportData) -> ReportTable:
    rows = [{"Session": s["id"], "Started (UTC)": _utc(s["started"]), "Finished (UTC)": _utc(s["finished"]),
             "Outcome": s["outcome"] or "running or killed",
             "Host": s["host"], "Executor": s["executor"], "Device": s["device"], "Code revision": _short(s["code_revision"]),
             "Command": " ".join(json.loads(s["argv"] or "[]"))} for s in data.run["sessions"]]
    columns = ["Session", "Started (UTC)", "Finished (UTC)", "Outcome", "Host", "Executor", "Device", "Code revision", "Command"]
    return ReportTable("provenance-sessions", "Sessions", "Each invocation that wrote into this database (code revisions "
                       "abbreviated; in full above).",
                       pd.DataFrame(rows, columns=columns))


def _job_counts(data: ReportData) -> ReportTable:
    counts = pd.crosstab(data.jobs["kind"], data.jobs["status"]).reindex(columns=list(STATUSES), fill_value=0)
    counts = counts.reindex([k for k in ("train", "fit", "craft", "evaluate") if k in counts.index]).reset_index()
    counts.columns = ["Kind", *[s.capitalize() for s in STATUSES]]
    return ReportTable("provenance-jobs", "Jobs of the plan", "Planned jobs by kind and status (pending: not run yet).",
                       counts)


def _first_line(error: object) -> str:
    return error.strip().splitlines()[0] if isinstance(error, str) and error.strip() else ""


def _missing_jobs(data: ReportData) -> ReportTable | None:
    lacking = data.jobs[data.jobs["status"] != DONE]
    if lacking.empty:
        return None
    frame = pd.DataFrame({"Kind": lacking["kind"], "Job": lacking["label"], "Status": lacking["status"],
                          "Error": [_first_line(e) for e in lacking["error"]]}).reset_index(drop=True)
    marks = {(i, "Status"): MISSING for i in range(len(frame))}
    return ReportTable("provenance-missing", "Jobs without a result",
                       "The run is partial: these planned jobs are pending, failed or skipped; tables mark their cells.",
                       frame, marks)


def seed_departures(data: ReportData) -> list[tuple[str, str]]:
    """A fact per paper dataset whose results include NRP, whose rows the paper reports (Table 10) from another NRP."""
    facts = []
    for dataset in data.datasets():
        if dataset.partition(":")[0] not in PAPER_DATASETS:
            continue
        stacks = data.cells.loc[data.cells["dataset"] == dataset, "defense"].dropna().unique()
        bases = {data.spec.get("defenses", {}).get(stage, {}).get("base", stage) for stack in stacks for stage in parse_stack(stack)}
        if "nrp" in bases:
            facts.append((f"NRP ({dataset}; the paper's Table 10)", SEED_DEPARTURES))
    return facts


def provenance(data: ReportData) -> Provenance:
    run = data.run
    sessions = run["sessions"]
    last = sessions[-1] if sessions else {}
    finished = data.cells.get("finished", pd.Series(dtype=object)).dropna()
    revisions = sorted({s["code_revision"] or "unknown" for s in sessions})
    facts = [("Results database", str(data.path)), ("Spec digest", run["spec_digest"]), ("Seed", str(run["seed"])),
             ("n (first test examples)", "all" if run["n"] is None else str(run["n"])),
             ("Device (spec)", run["device"]), ("Device (ran on)", ", ".join(sorted({str(s["device"]) for s in sessions})) or "unknown"),
             ("Created", run["created"]), ("Results finished", f"{finished.min()} to {finished.max()}" if not finished.empty else "none yet"),
             ("Code revision", ", ".join(revisions) or "unknown"), ("Sessions", str(len(sessions)))]
    facts += [(f"Attack presets ({dataset})", preset_origin(dataset)) for dataset in data.datasets()]
    facts += seed_departures(data)
    versions = sorted(json.loads(last.get("versions_json") or "{}").items())
    return Provenance(name=run["name"], description=_description(run["spec_text"]), ran=what_ran(data), facts=facts,
                      versions=versions,
                      spec_text=run["spec_text"], spec_json=json.dumps(data.spec, indent=1, sort_keys=True),
                      sessions=_sessions(data), jobs=_job_counts(data), missing=_missing_jobs(data),
                      complete=bool((data.jobs["status"] == DONE).all()))
