"""One JSON record per evaluated (classifier, defense stack) beside the report, for tools that read results
without parsing HTML (what RobustBench keeps per model): what ran, versions, accuracies with intervals, the
audit verdict and the report's path.  Accuracies are percentages; the numbers are ``bench.worst``'s.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.atomic import write_text_atomic
from bench.export import with_intervals
from bench.report.headline import stack_frame
from bench.report.load import DONE, ReportData
from bench.report.names import slug
from bench.report.verdicts import audit_verdicts
from bench.worst import STACK_KEYS

RECORDS_DIR = "records"
RECORD_VERSION = 1
RESULT_FIELDS = ("attack", "attack_base", "threat", "threat_model", "eps", "lam", "source", "n", "accuracy", "ci_low",
                 "ci_high", "draws", "accuracy_mean_draws")
STACK_FIELDS = ("n", "draws", "complete", "clean", "clean_ci_low", "clean_ci_high", "clean_mean_draws", "worst",
                "worst_ci_low", "worst_ci_high", "worst_mean_draws", "worst_column", "worst_column_result", "worst_paper",
                "gain", "gain_ci_low", "gain_ci_high", "gain_p")


def _plain(value: Any) -> Any:
    """JSON's value: NaN and missing as null, numpy scalars as Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def write_records(data: ReportData, out_dir: Path, index: Path) -> list[Path]:
    """Write ``records/<stack>.json`` under ``out_dir`` for every stack with results; returns their paths."""
    stacks = stack_frame(data)
    if stacks.empty:
        return []
    sessions = data.run["sessions"]
    last = sessions[-1] if sessions else {}
    verdicts = audit_verdicts(data.path)
    done = data.cells[data.cells["status"] == DONE]
    results = with_intervals(done.to_dict("records"))
    paths = []
    for stack in stacks.to_dict("records"):
        key = tuple(stack[k] for k in STACK_KEYS)
        mine = [r for r in results if tuple(r[k] for k in STACK_KEYS) == key]
        record = {"record_version": RECORD_VERSION, **{k: _plain(stack[k]) for k in STACK_KEYS},
                  "run": data.run["name"], "spec_digest": data.run["spec_digest"], "results_database": str(data.path),
                  "report": str(index), "versions": json.loads(last.get("versions_json") or "{}"),
                  "code_revision": last.get("code_revision"), "device": last.get("device"),
                  "accuracy_unit": "percent", "interval": "95% Clopper-Pearson",
                  **{k: _plain(stack[k]) for k in STACK_FIELDS}, "audit_verdict": verdicts.get(key),
                  "results": [{k: _plain(r.get(k)) for k in RESULT_FIELDS} for r in mine]}
        path = out_dir / RECORDS_DIR / f"{slug(*map(str, key))}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(record, indent=1, default=str) + "\n")
        paths.append(path)
    return paths
