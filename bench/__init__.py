"""purebench: a benchmark harness for adversarial defenses, input purifiers first."""

import sys
from typing import Any

from bench.classifiers import load_classifier
from bench.data import load_dataset

__all__ = ["audit", "evaluate", "load_classifier", "load_dataset"]


def __getattr__(name: str) -> Any:
    """``bench.evaluate`` is imported on first use: it needs ``defenses``, whose modules import ``bench`` themselves."""
    if name == "evaluate":
        from bench.evaluation import evaluate

        return evaluate
    if name == "audit":  # the package bench.audit, callable as bench.audit(...)
        import bench.audit

        return sys.modules["bench.audit"]
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
