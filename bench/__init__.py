"""purebench: a benchmark harness for adversarial defenses, input purifiers first."""

from bench.classifiers import load_classifier
from bench.data import load_dataset

__all__ = ["load_classifier", "load_dataset"]
