"""purebench: a benchmark harness for adversarial defenses, input purifiers first.

The package imports nothing when it loads: every layer imports its core modules
(registries, data, models, hashing, cache), while the functions below sit on
top of the harness, so each is imported on first use (PEP 562).
"""

from __future__ import annotations

from typing import Any

__all__ = ["audit", "evaluate", "load_classifier", "load_dataset", "load_results"]


def __getattr__(name: str) -> Any:
    if name == "load_dataset":
        from bench.data import load_dataset

        return load_dataset
    if name == "load_classifier":
        from bench.classifiers import load_classifier

        return load_classifier
    if name == "load_results":
        from bench.results import load_results

        return load_results
    if name == "evaluate":
        from bench.evaluation import evaluate

        return evaluate
    if name == "audit":
        from bench.auditing.api import audit

        return audit
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
