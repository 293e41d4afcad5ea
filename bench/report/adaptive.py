"""Adaptive against oblivious, per defense: does a defense's gain survive an attacker who sees it?

For every cell of an adaptive threat (BPDA, EOT, unrolled gradients) and for
the auxiliary-aware sweep (its worst lambda), the same attack at the same eps
under the oblivious threat, the drop between them, and the gain over "none"
on the same classifier under each: a gain that vanishes under the adaptive
attack was gradient masking, not robustness.  The drop is paired (the same
examples): its interval and the exact McNemar p-value say whether it is more
than noise.
"""

from __future__ import annotations

import math

import pandas as pd

from attacks.threats import Role
from bench.paired import compare_flags
from bench.report.headline import interval_text, n_label
from bench.report.layout import lacking_summary, ordered_rows
from bench.report.load import DONE, ReportData
from bench.report.matrix import oblivious_cells
from bench.report.model import MISSING, PARTIAL, ReportTable
from bench.report.names import NONE_STACK, slug

OBLIVIOUS_COLUMN = "Oblivious"
ADAPTIVE_COLUMN = "Adaptive"


def _accuracy(cells: pd.DataFrame) -> float:
    done = cells[cells["status"] == DONE]
    return 100 * done["accuracy"].min() if not done.empty else math.nan


def _weakest(cells: pd.DataFrame) -> str | None:
    """The job key of the done cell with the lowest accuracy (None when none is done)."""
    done = cells[cells["status"] == DONE]
    return None if done.empty else done.loc[done["accuracy"].idxmin(), "job_key"]


def table_adaptive(data: ReportData, dataset: str) -> ReportTable | None:
    cells = data.cells[data.cells["dataset"] == dataset]
    adaptive = cells[cells["threat_role"] == Role.ADAPTIVE.value]
    if adaptive.empty:
        return None
    oblivious = oblivious_cells(cells)
    records, marks, tips = [], {}, {}
    order = {row: i for i, row in enumerate(ordered_rows(adaptive))}
    groups = adaptive.groupby(["section", "classifier", "defense", "attack", "threat", "eps_key"], sort=False)
    for (section, classifier, defense, attack, threat, eps), group in sorted(groups, key=lambda g: order[g[0][:3]]):
        position = len(records)
        same = (oblivious["attack"] == attack) & (oblivious["eps_key"] == eps)
        mine = oblivious[same & (oblivious["classifier"] == classifier) & (oblivious["defense"] == defense)]
        obl = _accuracy(mine)
        adapt = _accuracy(group)
        keys = (_weakest(group), _weakest(mine))
        flags = data.draw_flags([k for k in keys if k is not None])
        paired = compare_flags(flags[keys[0]], flags[keys[1]]) if all(k in flags for k in keys) else {}
        label = threat
        if group["lam"].notna().any() and group["status"].eq(DONE).any():
            worst = group[group["status"] == DONE].sort_values("accuracy").iloc[0]
            label = f"{threat} (worst of {group['lam'].nunique()} lambdas: {worst['lam']:g})"
        none_same = (cells["classifier"] == classifier) & (cells["defense"] == NONE_STACK) & (cells["attack"] == attack)
        none_obl = _accuracy(oblivious[same & (oblivious["classifier"] == classifier) & (oblivious["defense"] == NONE_STACK)])
        none_adapt = _accuracy(cells[none_same & (cells["threat"] == threat) & (cells["eps_key"] == eps)])
        none_adapt = none_obl if math.isnan(none_adapt) else none_adapt
        records.append({"Section": section, "Classifier": classifier, "Defense": defense, "Attack": attack, "eps": eps,
                        "Threat": label, OBLIVIOUS_COLUMN: round(obl, 2), ADAPTIVE_COLUMN: round(adapt, 2),
                        "Drop (pts)": round(obl - adapt, 2),
                        "Drop 95% CI": interval_text(-paired.get("ci_high", math.nan), -paired.get("ci_low", math.nan)),
                        "McNemar p": paired.get("p_value", math.nan),
                        "Gain over none, oblivious (pts)": round(obl - none_obl, 2) if defense != NONE_STACK else math.nan,
                        "Gain over none, adaptive (pts)": round(adapt - none_adapt, 2) if defense != NONE_STACK else math.nan})
        lacking = group[group["status"] != DONE]
        if not lacking.empty:
            names = [f"lambda {lam:g}" if not math.isnan(lam) else attack for lam in lacking["lam"].astype(float)]
            marks[(position, ADAPTIVE_COLUMN)] = MISSING if math.isnan(adapt) else PARTIAL
            tips[(position, ADAPTIVE_COLUMN)] = lacking_summary(zip(names, lacking["status"], lacking["error"]))
    frame = pd.DataFrame(records)
    n_text = n_label(adaptive)
    note = (f"{n_text + '. ' if n_text else ''}Accuracy (%) under the oblivious threat (the attack sees the classifier only) "
            "and under an adaptive one (the attack sees the defense: gradients through it, BPDA or EOT; for auxaware the "
            "worst lambda of the sweep). Drop: oblivious minus adaptive, with its paired 95% interval and the exact McNemar "
            "p-value on the same examples (p >= 0.05: the two are not distinguishable at this n). A gain over 'none' that "
            "vanishes under the adaptive attack is not robustness.")
    return ReportTable(slug(dataset, "adaptive"), "Adaptive against oblivious attacks" + (f" ({n_text})" if n_text else ""),
                       note, frame, marks, tips, section="Section", formats={"McNemar p": ".3g"})
