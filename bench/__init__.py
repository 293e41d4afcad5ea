"""purebench: a benchmark harness for adversarial defenses, input purifiers first."""

from typing import Any

from bench.classifiers import load_classifier
from bench.data import load_dataset

__all__ = ["evaluate", "load_classifier", "load_dataset"]


def __getattr__(name: str) -> Any:
    """``bench.evaluate`` is imported on first use: it needs ``defenses``, whose modules import ``bench`` themselves."""
    if name == "evaluate":
        from bench.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
