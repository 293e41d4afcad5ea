"""Table 2: the computational load of each defense stack, and the training time of the base classifiers.

The runner times each (classifier, defense stack) once, in its clean
evaluation: purification seconds per image at batch size 1 (the paper's
"purification time") and images per second at a large batch (what a
benchmark run pays), on the device the run used, by the wall clock and by
CPU time.  Beside them: the purification seconds measured while evaluating
(at the run's evaluation batch size) and each stage's fit seconds (Table 2's
training time, the crafting of training attacks included).  A database
written before the runner recorded a figure shows it as not recorded.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from bench.jobs import CLEAN
from bench.report.layout import lacking_summary, ordered_rows, status_tip
from bench.report.load import DONE, ReportData
from bench.report.model import MISSING, SIGNIFICANT, ReportTable
from bench.report.names import NONE_STACK, slug

TIMING = "purification_timing"  # the key of the clean evaluate job's details that holds the timing
SINGLE = "Batch 1 (ms/img)"
SINGLE_SD = "Batch 1 sd (ms/img)"
SINGLE_CPU = "Batch 1 CPU (ms/img)"
TRAINING = "Training (s)"
STAGES = "Training per stage (s)"
EVALUATION = "While evaluating (ms/img)"
EVALUATION_BATCH = "Evaluation batch size"
NOT_RECORDED = "not recorded: the runner that wrote this result did not measure it (a database from before it did)"


def _details(job: Any) -> dict[str, Any]:
    return json.loads(job.details_json) if isinstance(job.details_json, str) and job.details_json else {}


def _stage_fit_jobs(rows: pd.DataFrame, jobs: pd.DataFrame) -> list[tuple[str, Any]] | None:
    """(stage label, its fit job) of each trained stage of a row's stack, or None where that cannot be known yet.

    A result records its stack's fit keys; before any result the fit jobs are
    found by their labels, which fails only for a variant sharing another
    variant's fitted state.
    """
    by_key = jobs.set_index("key")
    done = rows.loc[rows["status"] == DONE, "stack_json"].dropna() if "stack_json" in rows else pd.Series(dtype=object)
    if not done.empty:
        stages = [(s["label"], f"fit-{s.get('fit_key', s['key'])}") for s in json.loads(done.iloc[0])]
        return [(label, by_key.loc[key]) for label, key in stages if key in by_key.index]
    first = rows.iloc[0]
    by_label = jobs[jobs["kind"] == "fit"].set_index("label")
    found = []
    for label in str(first["defense"]).split("+"):
        fit = f"fit {label} on {first['dataset']}/{first['arch']}/{first['recipe']}/seed{first['seed']}"
        if fit in by_label.index:
            found.append((label, by_label.loc[fit]))
        elif label != NONE_STACK:
            return None
    return found


def _fit_seconds(rows: pd.DataFrame, jobs: pd.DataFrame) -> tuple[float, str, str | None]:
    """Summed fit seconds of a row's stages, each stage's as text, and why the sum is missing (a fit not done)."""
    fits = _stage_fit_jobs(rows, jobs)
    if fits is None:
        return math.nan, "", "unknown until the stack has a result"
    total, parts, lacking = 0.0, [], []
    for label, job in fits:
        seconds = _details(job).get("fit_seconds") if job.status == DONE else None
        if seconds is None:
            lacking.append((f"fit {label}", job.status, job.error))
            parts.append(f"{label} ?")
            continue
        total += float(seconds)
        parts.append(f"{label} {float(seconds):.1f}")
    return (math.nan if lacking else total), ", ".join(parts), lacking_summary(lacking) or None


def _timing(clean: pd.DataFrame, jobs: pd.DataFrame) -> tuple[dict[str, Any] | None, str]:
    """The purification timing recorded by a row's clean evaluation, or None and why it is missing."""
    if clean.empty:
        return None, "not planned: the clean evaluation, which times purification, is not in this run"
    cell = clean.iloc[0]
    if cell["status"] != DONE:
        return None, status_tip(cell["status"], cell["error"])
    job = jobs[jobs["key"] == cell["job_key"]]
    timing = _details(job.iloc[0]).get(TIMING) if not job.empty else None
    return (timing, "") if timing else (None, NOT_RECORDED)


def _row(rows: pd.DataFrame, jobs: pd.DataFrame, columns: list[tuple[str, str, float, int]],
         several_batches: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Table 2's numbers for one (classifier, stack) and, by column, why a number is missing."""
    done = rows[rows["status"] == DONE]
    timing, why = _timing(rows[rows["attack"] == CLEAN], jobs)
    record: dict[str, Any] = {}
    lacking: dict[str, str] = {}
    for header, key, scale, digits in columns:
        value = timing.get(key) if timing else None
        record[header] = round(scale * float(value), digits) if value is not None else math.nan
        if value is None:
            lacking[header] = why if timing is None else NOT_RECORDED
    if several_batches:
        record["Large batch size"] = int(timing["batch_size"]) if timing else math.nan
    fit, stages, unfitted = _fit_seconds(rows, jobs)
    record[TRAINING], record[STAGES] = round(fit, 1), stages
    if unfitted is not None:
        lacking[TRAINING] = unfitted
    if done.empty:
        record[EVALUATION], record[EVALUATION_BATCH] = math.nan, math.nan
        counts = rows["status"].value_counts()
        lacking[EVALUATION] = "; ".join(f"{status}: {count} evaluations" for status, count in counts.items())
    else:
        record[EVALUATION] = round(1000 * float(np.average(done["purify_seconds_per_image"], weights=done["n"])), 4)
        record[EVALUATION_BATCH] = int(done["eval_batch_size"].iloc[0])
    record["Device"] = timing["device"] if timing else (done["device"].iloc[0] if not done.empty else "")
    record["Evaluations"] = len(done)
    return record, lacking


def table2(data: ReportData, dataset: str) -> ReportTable | None:
    cells = data.cells[data.cells["dataset"] == dataset]
    if cells.empty:
        return None
    recorded = _recorded(cells, data.jobs)
    batch_sizes = sorted({int(t["batch_size"]) for t in recorded})
    columns = _timing_columns(batch_sizes)
    records, marks, tips = [], {}, {}
    for position, (section, classifier, defense) in enumerate(ordered_rows(cells)):
        rows = cells[(cells["classifier"] == classifier) & (cells["defense"] == defense)]
        record, lacking = _row(rows, data.jobs, columns, len(batch_sizes) > 1)
        records.append({"Section": section, "Classifier": classifier, "Defense": defense, **record})
        marks.update({(position, column): MISSING for column in lacking})
        tips.update({(position, column): why for column, why in lacking.items()})
    frame = pd.DataFrame(records)
    eval_batch = frame[EVALUATION_BATCH].dropna().unique()
    if len(eval_batch) == 1:  # one evaluation batch size for every row: said once, in the note
        frame = frame.drop(columns=EVALUATION_BATCH)
    at_batch = f"size, {int(eval_batch[0])}" if len(eval_batch) == 1 else "size"
    single_images = sorted({int(t["single_images"]) for t in recorded})
    averaged = (f" (the mean of {', '.join(map(str, single_images))} calls on the first test images, and their standard "
                "deviation)" if single_images else "")
    note = (f"Purification alone, timed once per classifier and stack by its clean evaluation: seconds per image at batch "
            f"size 1{averaged}, and images per second at a large batch (the clean evaluation's own purification of its n test "
            "images at the evaluation batch size, the first draw's for a randomized stack), by the wall "
            "clock and by this process's CPU time (which leaves out waiting for busy cores on a shared machine, and GPU "
            "work). Training: the summed fit seconds of the stack's stages (the crafting of training attacks included), "
            "0 for a stack without training; per stage beside it. While evaluating: purification seconds per image over "
            f"the stack's evaluations at the run's evaluation batch {at_batch} (n images per call at most). 'none' does "
            "nothing: its times are the cost of a function call.")
    formats = {**{h: _format(scale) for h, _, scale, _ in columns}, TRAINING: ".1f", EVALUATION: ".4f",
               EVALUATION_BATCH: ".0f", "Large batch size": ".0f"}
    return ReportTable(slug(dataset, "table2"), "Table 2: computational load", note, frame, marks, tips,
                       section="Section", formats=formats)


def _timing_columns(batch_sizes: list[int]) -> list[tuple[str, str, float, int]]:
    """(header, key of the recorded timing, scale, decimals) of Table 2's timing columns; the large batch's size
    is in the header when the run used one."""
    large = f"Batch {batch_sizes[0]}" if len(batch_sizes) == 1 else "Large batch"
    return [(SINGLE, "seconds_per_image", 1000.0, 4), (SINGLE_SD, "seconds_per_image_sd", 1000.0, 4),
            (f"{large} (img/s)", "images_per_second", 1.0, 1),
            (SINGLE_CPU, "cpu_seconds_per_image", 1000.0, 4), (f"{large} CPU (img/s)", "images_per_cpu_second", 1.0, 1)]


def _format(scale: float) -> str:
    """ms per image to 4 decimals; images per second to 4 significant digits written out ('none' does millions,
    PixelDefend a fraction of one)."""
    return ".4f" if scale != 1.0 else SIGNIFICANT


def _recorded(cells: pd.DataFrame, jobs: pd.DataFrame) -> list[dict[str, Any]]:
    """Every purification timing the clean evaluations of ``cells`` recorded."""
    keys = set(cells.loc[(cells["attack"] == CLEAN) & (cells["status"] == DONE), "job_key"])
    return [t for job in jobs[jobs["key"].isin(keys)].itertuples() if (t := _details(job).get(TIMING))]


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
