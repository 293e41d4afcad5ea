"""Classifier architectures with in-model normalisation and named feature taps."""

from bench.models import preact_resnet, small_cnn, vgg, wide_resnet  # noqa: F401  (registration)
from bench.models.registry import ARCHS
from bench.models.taps import FeatureTaps, TappedClassifier, forward_with_taps

__all__ = ["ARCHS", "FeatureTaps", "TappedClassifier", "forward_with_taps"]
