"""``bench.audit``: the audit from Python, with the arguments of ``bench.evaluate``."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
from torch import nn

from bench.auditing.frame import audit_frame
from bench.evaluation import run_evaluation
from bench.spec import AUDIT, SpecError


def audit(classifier: nn.Module | str | os.PathLike, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """The audit of every (classifier, defense stack) of ``bench.evaluate``'s matrix: one row per check and stack.

    Takes ``bench.evaluate``'s arguments (``audit_params={"n": 50}`` sizes the
    audit, see ``bench.spec.audit_settings``); runs the matrix and the audit through
    the same planner and store, and returns the columns of
    ``run_bench.py export --what audit``: ``verdict``, ``value``, ``threshold``
    and ``evidence`` per check, and an ``overall`` row per stack.
    """
    if AUDIT in kwargs:
        raise SpecError("bench.audit audits every stack already; drop audit=")
    return audit_frame(run_evaluation(classifier, *args, **{AUDIT: True, **kwargs}))
