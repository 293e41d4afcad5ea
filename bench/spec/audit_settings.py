"""The audit's sizes and strengths: the spec's ``[audit_params]`` table, validated like the rest of a spec.

Defaults are ours, chosen to make the audit a small fraction of a matrix on a
CPU: every attack of the audit costs in proportion to ``n``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from bench.errors import UserError


@dataclass(frozen=True)
class AuditSettings:
    n: int | None = 100  # examples the audit's attacks run on (at most the spec's n; None: the spec's n)
    probe_n: int = 16  # examples the declared-flag probes run on
    unbounded_eps: float = 1.0  # L-inf: the whole image range
    unbounded_steps: int = 100
    effort_factor: int = 2  # "more effort": steps times this ...
    effort_restarts: int = 2  # ... and this many restarts
    square_queries: int = 300
    binarization_n: int = 50  # examples of the binarization test (at most n)
    binarization_inner: int = 32  # inner points per example
    seed_offset: int = 1  # the binarization test's random points are drawn from seed + this
    apgd: bool = True  # the spec's APGD under the adaptive threat beside PGD: the bound is the worst of both

    def identity(self) -> dict[str, Any]:
        return asdict(self)


_POSITIVE_INTS = ("probe_n", "unbounded_steps", "effort_factor", "effort_restarts", "square_queries", "binarization_n",
                  "binarization_inner")


def parse_audit_settings(doc: Mapping[str, Any] | None, error: type[UserError] = UserError) -> AuditSettings:
    """``[audit_params]`` of a spec -> ``AuditSettings``; an unknown key or a bad value raises ``error`` naming the fix."""
    doc = dict(doc or {})
    names = [f.name for f in fields(AuditSettings)]
    unknown = sorted(doc.keys() - set(names))
    if unknown:
        raise error(f"unknown key(s) {', '.join(unknown)} in audit_params; use: {', '.join(names)}")
    for key in (*_POSITIVE_INTS, "n"):
        value = doc.get(key)
        if key in doc and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise error(f"audit_params.{key} must be an integer >= 1, got {value!r}")
    if "seed_offset" in doc and (isinstance(doc["seed_offset"], bool) or not isinstance(doc["seed_offset"], int)):
        raise error(f"audit_params.seed_offset must be an integer, got {doc['seed_offset']!r}")
    if "apgd" in doc and not isinstance(doc["apgd"], bool):
        raise error(f"audit_params.apgd must be true or false, got {doc['apgd']!r}")
    eps = doc.get("unbounded_eps", 1.0)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise error(f"audit_params.unbounded_eps must be a number > 0 (1.0 is the whole image range), got {eps!r}")
    if "unbounded_eps" in doc:
        doc["unbounded_eps"] = float(eps)
    return AuditSettings(**doc)
