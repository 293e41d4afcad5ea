"""The headline table: per defense stack, clean accuracy and the worst case over everything that ran, with intervals.

Its numbers come from ``bench.worst.stack_worst`` (one definition of worst
for every surface); the gain over "none" is paired, with the exact McNemar
p-value, and a gain not significant at 5% says so in words.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.report.layout import ordered_rows
from bench.report.load import ReportData
from bench.report.model import PARTIAL, ReportTable
from bench.report.names import NONE_STACK, slug
from bench.seeds import across_seeds
from bench.statistics import SIGNIFICANCE
from bench.worst import stack_worst

NOT_SIGNIFICANT = "not significant"


def stack_frame(data: ReportData, dataset: str | None = None) -> pd.DataFrame:
    """``stack_worst`` of the run (or of one dataset), with the report's classifier and section names."""
    cells = data.cells if dataset is None else data.cells[data.cells["dataset"] == dataset]
    if cells.empty or "accuracy" not in cells:
        return pd.DataFrame()
    frame = stack_worst(cells, data.draw_flags(cells.loc[cells["status"] == "done", "job_key"]))
    if frame.empty:
        return frame
    names = cells.drop_duplicates(["dataset", "arch", "recipe", "seed"]).set_index(["dataset", "arch", "recipe", "seed"])
    index = list(zip(frame["dataset"], frame["arch"], frame["recipe"], frame["seed"]))
    return frame.assign(classifier=[names.at[i, "classifier"] for i in index], section=[names.at[i, "section"] for i in index])


def significance_text(p_value: float, n: float) -> str:
    """How a gain over 'none' reads: empty when significant at 5%, else the words of the issue it raises."""
    if math.isnan(p_value) or p_value < SIGNIFICANCE:
        return ""
    return f"not distinguishable from no defense at n = {int(n)} (McNemar p = {p_value:.3g})"


def headline_table(data: ReportData, dataset: str) -> ReportTable | None:
    frame = stack_frame(data, dataset)
    if frame.empty:
        return None
    order = {(c, d): i for i, (_, c, d) in enumerate(ordered_rows(data.cells[data.cells["dataset"] == dataset]))}
    frame = frame.assign(_order=[order.get((c, d), len(order)) for c, d in zip(frame["classifier"], frame["defense"])])
    frame = frame.sort_values("_order", kind="stable").reset_index(drop=True)
    randomized = frame["draws"].fillna(1).gt(1).any()
    records, marks, tips = [], {}, {}
    for position, r in enumerate(frame.itertuples()):
        record = {"Section": r.section, "Classifier": r.classifier, "Defense": r.defense, "Clean": r.clean,
                  "Clean 95% CI": interval_text(r.clean_ci_low, r.clean_ci_high), "Worst": r.worst,
                  "Worst 95% CI": interval_text(r.worst_ci_low, r.worst_ci_high), "Worst (column minimum)": r.worst_column,
                  "Weakest against": r.worst_column_result}
        if randomized:
            record.update({"Draws": r.draws, "Clean (mean over draws)": r.clean_mean_draws,
                           "Worst (mean over draws)": r.worst_mean_draws})
        if r.defense != NONE_STACK:
            record.update({"Gain over none (pts)": r.gain, "Gain 95% CI": interval_text(r.gain_ci_low, r.gain_ci_high),
                           "McNemar p": r.gain_p, "Significance": significance_text(r.gain_p, r.n)})
        records.append(record)
        if not r.complete:
            for name in ("Worst", "Worst (column minimum)"):
                marks[(position, name)] = PARTIAL
                tips[(position, name)] = "upper bound: some results of this stack are missing"
    table = pd.DataFrame(records)
    n_text = n_label(frame)
    note = (f"{n_text} test examples. Worst: the percentage of examples correct under every result that ran against the "
            "stack (clean, every attack, threat model, lambda and transfer source; each attack at its main eps)"
            f"{', on every draw' if randomized else ''}; Worst (column minimum): the lowest of those accuracies. 95% "
            "intervals are Clopper-Pearson. Gain: Worst minus that of 'none' on the same classifier, paired (same "
            f"examples), with a MOVER interval and the exact McNemar test; a gain with p >= {SIGNIFICANCE:g} is marked.")
    return ReportTable(slug(dataset, "worst"), f"Worst-case robust accuracy per defense ({n_text})", note, table, marks,
                       tips, section="Section", formats={"McNemar p": ".3g"})


def n_label(cells: pd.DataFrame) -> str:
    """``n = 150`` (every n among the done cells), or empty when no cell has a result."""
    ns = sorted({int(n) for n in cells["n"].dropna()}) if "n" in cells else []
    return f"n = {', '.join(map(str, ns))}" if ns else ""


def interval_text(low: float, high: float) -> str:
    """``[45.2, 61.0]``; empty without an interval."""
    return "" if math.isnan(low) or math.isnan(high) else f"[{low:.1f}, {high:.1f}]"


def seeds_table(data: ReportData, dataset: str) -> ReportTable | None:
    """Across seeds (a ``seeds`` spec): mean, standard deviation and t-interval of each stack's clean and worst accuracy."""
    frame = stack_frame(data, dataset)
    if frame.empty or frame["seed"].nunique() < 2:
        return None
    summary = across_seeds(frame)
    records = [{"Arch": r["arch"], "Recipe": r["recipe"], "Defense": r["defense"], "Seeds": r["seeds"],
                "Clean (mean)": r["clean_mean"], "Clean (std)": r["clean_std"],
                "Clean 95% CI": interval_text(r["clean_ci_low"], r["clean_ci_high"]),
                "Worst (mean)": r["worst_mean"], "Worst (std)": r["worst_std"],
                "Worst 95% CI": interval_text(r["worst_ci_low"], r["worst_ci_high"]),
                "Worst (paper columns, mean)": r["worst_paper_mean"], "Worst per seed": r["per_seed"]}
               for r in summary.to_dict("records")]
    note = (f"{n_label(frame)} test examples per seed. Each seed trains its own classifier, fits its own defenses and "
            "draws its own attacks; mean and standard deviation over the seeds, and Student's t 95% interval of the mean. "
            "The per-seed values are in the worst-case table (its CSV has a row per seed) and in records/.")
    return ReportTable(slug(dataset, "seeds"), f"Across seeds ({n_label(frame)} each)", note, pd.DataFrame(records))
