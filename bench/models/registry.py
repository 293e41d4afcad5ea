"""The arch registry: factories ``(num_classes, image_shape, mean, std) -> TappedClassifier``."""

from __future__ import annotations

from bench.models.taps import TappedClassifier
from bench.registry import Registry

ARCHS: Registry[TappedClassifier] = Registry("archs")
