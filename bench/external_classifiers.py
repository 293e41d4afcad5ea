"""Classifiers trained elsewhere: a weights file for a registered arch, or an ``nn.Module`` from Python.

Such a classifier comes trained, so it has no recipe.  It is identified by
its contents, never by a path or a Python object's address: a checkpoint by
the SHA-256 of the file's bytes, a module by its type and the bytes of its
state dict.  Renaming a file keeps its results and cached artifacts; two
different files never share them.

A checkpoint is imported into the artifact cache by its train job (loaded
safely, verified against the digest planned, clean accuracy recorded), so
every later job, in any process, reads the weights from the cache.  A module
cannot be rebuilt from weights alone, so it travels with the jobs (to Ray
workers too, pickled); its state is cached all the same, with its clean
accuracy, as a record.  The train job reads the file where the spec found it,
so with Ray the node running that job must see the path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.cache import ArtifactCache
from bench.checkpoints import read_checkpoint
from bench.classifiers import ARCH_VERSION, LoadedClassifier, accuracy, build_arch
from bench.data import DatasetSplits
from bench.errors import InvalidInputError, UserError
from bench.hashing import content_key, file_digest, state_digest
from bench.predictions import check_finite_logits

CHECKPOINT = "checkpoint"  # the label (recipe column) of a classifier from --checkpoint or bench.evaluate(PATH)
MODULE = "module"  # the label of a classifier given as an nn.Module
CLASSIFIERS_KIND = "classifiers"


@dataclass(frozen=True)
class ExternalClassifier:
    """A trained classifier from outside: ``source`` is ``checkpoint`` (``path`` set) or ``module`` (``module`` set)."""

    label: str
    arch: str  # a registered arch for a checkpoint; the module's class name for a module
    source: str
    digest: str  # SHA-256 of the file, or of the module's type and state
    path: str | None = field(default=None, compare=False)  # where the bytes are read; not part of the identity
    module: nn.Module | None = field(default=None, compare=False, repr=False)

    def identity(self) -> dict[str, Any]:
        """What determines the classifier's outputs (enters the spec's digest)."""
        return {"source": self.source, "arch": self.arch, "weights": self.digest}


def from_checkpoint(label: str, arch: str, path: str | Path) -> ExternalClassifier:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise InvalidInputError(f"checkpoint {path} does not exist; give the path of a .pt, .pth or .safetensors file")
    return ExternalClassifier(label, arch, CHECKPOINT, file_digest(path), path=str(path))


def from_module(label: str, module: nn.Module) -> ExternalClassifier:
    kind = type(module)
    digest = content_key({"type": f"{kind.__module__}.{kind.__qualname__}", "state": state_digest(module.state_dict())}, 64)
    return ExternalClassifier(label, kind.__name__, MODULE, digest, module=module)


def external_key(ext: ExternalClassifier, data: DatasetSplits) -> str:
    """The cache key: the weights and the data they are evaluated on (not the path, not the seed)."""
    return content_key({"kind": "external-classifier", "data": data.fingerprint, "source": ext.source, "arch": ext.arch,
                        "arch_version": ARCH_VERSION, "weights": ext.digest})


def check_external(ext: ExternalClassifier, data: DatasetSplits) -> None:
    """Fail now, before any work, when the classifier cannot serve ``data`` (unsafe file, wrong arch, NaN weights, shapes)."""
    model = copy.deepcopy(ext.module).cpu().eval() if ext.module is not None else _load_checkpoint(ext, data).eval()
    broken = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if broken:
        raise InvalidInputError(f"classifier {ext.label!r} ({ext.arch}) has NaN or infinite weights in "
                                f"{', '.join(broken[:3])}{' ...' if len(broken) > 3 else ''}; give weights of a trained model")
    _check_outputs(model, ext, data)


def obtain_external(ext: ExternalClassifier, data: DatasetSplits, device: torch.device, cache: ArtifactCache) -> LoadedClassifier:
    """The classifier in eval mode on ``device``: a copy of the module, or the checkpoint's weights (imported on first use)."""
    key = external_key(ext, data)
    artifact = cache.load(CLASSIFIERS_KIND, key)
    imported_now = artifact is None
    if artifact is None:
        model = copy.deepcopy(ext.module) if ext.module is not None else _load_checkpoint(ext, data)
        model = model.to(device).eval()
        metadata = {"identity": f"{data.name}/{ext.arch}/{ext.label}", **ext.identity(), "path": ext.path,
                    "device": str(device), "torch": torch.__version__,
                    "clean_accuracy": accuracy(model, data.test.x, data.test.y, device)}
        cache.save(CLASSIFIERS_KIND, key, model.state_dict(), metadata)
        artifact = cache.load(CLASSIFIERS_KIND, key)
        if artifact is None:
            raise RuntimeError(f"the artifact cache lost {CLASSIFIERS_KIND}/{key} right after writing it")
    if ext.module is not None:
        model = copy.deepcopy(ext.module)  # the caller's object is never moved, frozen or put in eval mode
    else:
        model = build_arch(ext.arch, data)
        model.load_state_dict(artifact.tensors)
    return LoadedClassifier(model.to(device).eval(), key, {**artifact.metadata, "imported_now": imported_now}, False)


def _load_checkpoint(ext: ExternalClassifier, data: DatasetSplits) -> nn.Module:
    """The arch with the file's weights; the bytes loaded must be those planned."""
    state, digest = read_checkpoint(ext.path or "")
    if digest != ext.digest:
        raise UserError(f"checkpoint {ext.path} changed since the run was planned (sha256 {digest[:12]}, planned "
                        f"{ext.digest[:12]}); run again to plan it anew")
    model = build_arch(ext.arch, data)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise InvalidInputError(f"checkpoint {ext.path} does not fit arch {ext.arch!r} on {data.name} ({first}); give the "
                                "arch the weights were trained with (--arch NAME, or arch= from Python)") from None
    return model


def _check_outputs(model: nn.Module, ext: ExternalClassifier, data: DatasetSplits) -> None:
    x = data.test.x[:2]
    try:
        with torch.no_grad():
            logits = model(x)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's forward is reported as the fix to make
        raise InvalidInputError(f"classifier {ext.label!r} ({ext.arch}) fails on {data.name} images of shape "
                                f"{tuple(x.shape)}: {type(exc).__name__}: {exc}; it must take [0, 1] pixels (N, C, H, W)") from None
    expected = (len(x), data.num_classes)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != expected:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise InvalidInputError(f"classifier {ext.label!r} ({ext.arch}) returns {shape} for {len(x)} {data.name} images; "
                                f"it must return logits of shape {expected}")
    check_finite_logits(logits, f"classifier {ext.label!r} ({ext.arch}) on {data.name} test images")
