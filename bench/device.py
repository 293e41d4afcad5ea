"""Device choice: ``auto`` is CUDA when present, otherwise the CPU."""

from __future__ import annotations

import torch

from bench.errors import InvalidInputError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    if name not in DEVICE_CHOICES:
        raise InvalidInputError(f"unknown device {name!r}; use one of: {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("--device cuda was asked for but no CUDA device is available; use --device cpu or auto")
    return torch.device(name)
