"""Pretrained classifiers from RobustBench's model zoo (``robustbench:NAME``).

Loaded through robustbench's own ``load_model``.  The PyPI robustbench 1.1.1
imports a module ``autoattack`` that its dependency ships as ``pyautoattack``:
the alias is installed here, once, just before robustbench is imported.  Its
``loaders`` module also needs ``pkg_resources`` (setuptools < 81, pinned in
setup.cfg).  Zoo checkpoints are read by torch.load, whose default is
``weights_only=True`` in the torch this package requires.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from torch import nn

from bench.errors import DataUnavailableError
from bench.paths import data_root

#: An arch named ``robustbench:NAME`` is the zoo's model NAME.
ZOO_PREFIX = "robustbench:"
#: The recipe of every zoo arch: its models come trained.
PRETRAINED = "pretrained"
ZOO_DATASETS = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet": "imagenet"}


def _import_robustbench_utils() -> Any:
    import pyautoattack
    import pyautoattack.state

    sys.modules.setdefault("autoattack", pyautoattack)
    sys.modules.setdefault("autoattack.state", pyautoattack.state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from robustbench import utils
    return utils


class ZooClassifier(nn.Module):
    """A zoo model; its taps are its own module paths (``FeatureTaps`` accepts those)."""

    tap_points: dict[str, str] = {}

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.tap_points = {name: f"model.{name}" for name, _ in model.named_children()}

    def forward(self, x):  # type: ignore[no-untyped-def]
        return self.model(x)


def load_zoo_model(name: str, dataset: str, threat_model: str = "Linf") -> ZooClassifier:
    if dataset not in ZOO_DATASETS:
        raise DataUnavailableError(f"robustbench:{name}: the zoo covers {sorted(ZOO_DATASETS)}, not {dataset!r}")
    utils = _import_robustbench_utils()
    model_dir = data_root() / "robustbench"
    try:
        model = utils.load_model(model_name=name, model_dir=str(model_dir), dataset=ZOO_DATASETS[dataset], threat_model=threat_model)
    except KeyError as exc:
        raise DataUnavailableError(f"robustbench:{name}: no such {dataset}/{threat_model} entry in the zoo ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - network and checkpoint failures read the same to a user
        raise DataUnavailableError(
            f"robustbench:{name}: could not load from {model_dir} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            f"when offline, place the checkpoint at {model_dir}/{dataset}/{threat_model}/{name}.pt"
        ) from exc
    return ZooClassifier(model.eval())
