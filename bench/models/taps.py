"""Named feature taps: intermediate activations read through forward hooks.

An arch declares ``tap_points``, tap name -> dotted module path.  Names are
``layer1`` (the first convolution) up to ``layerK`` (after the last block
group), so the AID-Purifier README's ``layer1..layer4`` choices map onto every
arch.  Reading taps never changes the network or its outputs.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from bench.errors import UnknownNameError


class TappedClassifier(nn.Module):
    """A classifier with in-model normalisation and named feature taps."""

    tap_points: dict[str, str] = {}

    def __init__(self, mean: Iterable[float], std: Iterable[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalize(x))

    def body(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - each arch defines it
        raise NotImplementedError


class FeatureTaps:
    """Context manager recording the named taps of ``model`` during forward passes."""

    def __init__(self, model: nn.Module, names: Iterable[str]) -> None:
        points: dict[str, str] = getattr(model, "tap_points", {})
        modules = dict(model.named_modules())
        self.names = list(names)
        # A declared tap name, or else any module path of the model.
        paths = {n: points.get(n, n) for n in self.names}
        unknown = [n for n, path in paths.items() if path not in modules or path == ""]
        if unknown:
            raise UnknownNameError(
                f"{type(model).__name__} has no tap(s) {unknown}; declared taps: {', '.join(points) or '(none)'}, "
                "or give a module path from model.named_modules()"
            )
        self._modules = {n: modules[paths[n]] for n in self.names}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self.outputs: dict[str, torch.Tensor] = {}

    def __enter__(self) -> "FeatureTaps":
        for name, module in self._modules.items():
            self._handles.append(module.register_forward_hook(self._recorder(name)))
        return self

    def _recorder(self, name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            self.outputs[name] = output

        return hook

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.outputs[name]


def forward_with_taps(model: nn.Module, x: torch.Tensor, names: Iterable[str]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logits of ``model(x)`` and the activations of the named taps."""
    with FeatureTaps(model, names) as taps:
        logits = model(x)
    return logits, {n: taps[n] for n in taps.names}
