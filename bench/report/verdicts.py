"""The audit's verdict per defense stack, read from a results database's ``audit`` table where an audit ran."""

from __future__ import annotations

from pathlib import Path

from bench.store import has_table, open_readonly
from bench.worst import STACK_KEYS

VERDICT_ORDER = ("fail", "warn", "pass")  # the worst verdict of a stack's checks is its verdict
OVERALL_CHECK = "overall"


def audit_verdicts(path: Path | str) -> dict[tuple, str]:
    """Per stack, the audit's verdict (its overall check, else the worst of its checks); empty without an audit table."""
    conn = open_readonly(path)
    try:
        if not has_table(conn, "audit"):
            return {}
        rows = [dict(r) for r in conn.execute('SELECT dataset, arch, recipe, seed, defense, "check", verdict FROM audit')]
    finally:
        conn.close()
    verdicts: dict[tuple, list[tuple[str, str]]] = {}
    for r in rows:
        verdicts.setdefault(tuple(r[k] for k in STACK_KEYS), []).append((r["check"], r["verdict"]))
    out = {}
    for key, checks in verdicts.items():
        overall = [v for c, v in checks if c == OVERALL_CHECK]
        graded = [v for _, v in checks if v in VERDICT_ORDER]
        if overall or graded:
            out[key] = overall[0] if overall else min(graded, key=VERDICT_ORDER.index)
    return out
