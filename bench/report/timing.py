"""Table 2: the computational load of each defense stack, and the training time of the base classifiers.

What the runner records is shown as recorded: purification seconds per image
measured during evaluation (at the run's evaluation batch size, the mean over
the stack's evaluations) and each stage's fit seconds (Table 2's training
time, the crafting of training attacks included), summed over the stages of
a stack.  Timing at batch size 1 and at a large batch, as ``defenses.timing``
measures them, is not in the results database.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from bench.report.layout import lacking_summary, ordered_rows, status_tip
from bench.report.load import DONE, ReportData
from bench.report.model import MISSING, ReportTable
from bench.report.names import slug

PURIFY = "Purification (ms/img)"
THROUGHPUT = "Throughput (img/s)"
BATCH = "Batch size"
TRAINING = "Training (s)"


def _details(job: Any) -> dict[str, Any]:
    return json.loads(job.details_json) if isinstance(job.details_json, str) and job.details_json else {}


def _fit_seconds(stack_json: str, jobs: pd.DataFrame) -> tuple[float, str | None]:
    """Summed fit seconds of a stack's stages, or NaN and why (a stage's fit job not done)."""
    total = 0.0
    by_key = jobs.set_index("key")
    for stage in json.loads(stack_json):
        key = f"fit-{stage.get('fit_key', stage['key'])}"
        if key not in by_key.index:
            continue  # a stage without training (e.g. none)
        job = by_key.loc[key]
        seconds = _details(job).get("fit_seconds") if job.status == DONE else None
        if seconds is None:
            return math.nan, lacking_summary([(f"fit {stage['label']}", job.status, job.error)])
        total += float(seconds)
    return total, None


def table2(data: ReportData, dataset: str) -> ReportTable | None:
    cells = data.cells[(data.cells["dataset"] == dataset) & (data.cells["status"] == DONE)]
    if cells.empty:
        return None
    records, marks, tips = [], {}, {}
    for position, (section, classifier, defense) in enumerate(ordered_rows(cells)):
        rows = cells[(cells["classifier"] == classifier) & (cells["defense"] == defense)]
        per_image = float(np.average(rows["purify_seconds_per_image"], weights=rows["n"]))
        fit, why = _fit_seconds(rows["stack_json"].iloc[0], data.jobs)
        if why is not None:
            marks[(position, TRAINING)] = MISSING
            tips[(position, TRAINING)] = why
        records.append({"Section": section, "Classifier": classifier, "Defense": defense, PURIFY: round(1000 * per_image, 4),
                        THROUGHPUT: round(1 / per_image, 1) if per_image > 0 else math.nan,
                        BATCH: int(rows["eval_batch_size"].iloc[0]), TRAINING: round(fit, 1), "Device": rows["device"].iloc[0],
                        "Evaluations": len(rows)})
    note = ("Purification time per image as the runner measured it while evaluating (mean over the stack's evaluations, at "
            "the batch size shown); throughput is its inverse. Training: the summed fit seconds of the stack's stages (the "
            "crafting of training attacks included), 0 for a stack without training. Not recorded by the runner: seconds "
            "per image at batch size 1 and images per second at a large batch.")
    return ReportTable(slug(dataset, "table2"), "Table 2: computational load", note, pd.DataFrame(records), marks, tips,
                       section="Section", formats={PURIFY: ".4f", THROUGHPUT: ".1f", TRAINING: ".1f"})


def classifiers_table(data: ReportData, dataset: str) -> ReportTable | None:
    """Every base classifier the run trained or loaded (targets and transfer surrogates) with its training record."""
    prefix = f"train {dataset}/"
    jobs = data.jobs[(data.jobs["kind"] == "train") & data.jobs["label"].str.startswith(prefix)]
    if jobs.empty:
        return None
    records, marks, tips = [], {}, {}
    for position, job in enumerate(jobs.itertuples()):
        details = _details(job)
        accuracy = details.get("clean_accuracy")
        seconds = details.get("train_seconds")
        records.append({"Classifier": job.label[len(prefix):], "Status": job.status,
                        "Clean accuracy (%)": round(100 * accuracy, 2) if accuracy is not None else math.nan,
                        "Training (s)": round(float(seconds), 1) if seconds is not None else math.nan,
                        "Trained in this run": bool(details.get("trained_now")) if job.status == DONE else math.nan})
        if job.status != DONE:
            marks[(position, "Status")] = MISSING
            tips[(position, "Status")] = status_tip(job.status, job.error)
    note = ("Base classifiers (arch/recipe/seed) as trained: clean accuracy as measured after training, and training seconds "
            "(recorded when the classifier was trained, possibly by an earlier run sharing the artifact cache).")
    return ReportTable(slug(dataset, "classifiers"), "Base classifiers", note, pd.DataFrame(records), marks, tips,
                       formats={"Training (s)": ".1f"})
