"""Base classifiers by identity (dataset, arch, recipe, seed): from the cache, or trained on a miss.

``robustbench:NAME`` as the arch loads that zoo model instead (recipe
``pretrained``).  Checkpoints are cached as safetensors under a key hashing the
dataset's fingerprint, the arch, the recipe with its full configuration and
code version, and the seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from bench.cache import ArtifactCache
from bench.data import DatasetSplits, load_dataset
from bench.data.metadata import DatasetInfo
from bench.device import resolve_device
from bench.errors import InvalidInputError
from bench.hashing import content_key
from bench.job_progress import JobProgress
from bench.models import ARCHS
from bench.models.robustbench_zoo import PRETRAINED, ZOO_PREFIX, load_zoo_model
from bench.predictions import predict_labels
from bench.recipes import RECIPES, train
from bench.recipes.base import Recipe

log = logging.getLogger(__name__)

#: Bump when the arch code changes in a way that changes trained weights.
ARCH_VERSION = "1"


@dataclass(frozen=True)
class ClassifierId:
    dataset: str
    arch: str
    recipe: str
    seed: int = 0
    recipe_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise InvalidInputError(f"seed must be an integer >= 0 (as in a spec), got {self.seed!r}")

    def label(self) -> str:
        return f"{self.dataset}/{self.arch}/{self.recipe}/seed{self.seed}"


@dataclass
class LoadedClassifier:
    model: nn.Module
    key: str
    metadata: dict[str, Any]
    trained_now: bool


def build_arch(arch: str, data: DatasetSplits) -> nn.Module:
    mean, std = data.channel_stats()
    return ARCHS.create(arch, num_classes=data.num_classes, image_shape=data.image_shape, mean=mean, std=std)


def make_recipe(cid: ClassifierId) -> Recipe:
    return RECIPES.get(cid.recipe)(cid.dataset, **cid.recipe_params)


def classifier_key(cid: ClassifierId, data: DatasetSplits | DatasetInfo) -> str:
    recipe = make_recipe(cid)
    ARCHS.get(cid.arch)  # unknown arch -> a clear error before any work
    return content_key({"kind": "classifier", "data": data.fingerprint, "arch": cid.arch, "arch_version": ARCH_VERSION,
                        "recipe": recipe.identity(), "seed": cid.seed})


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, batch_size: int = 500) -> float:
    model.eval()
    return float((predict_labels(model, x, batch_size, device) == y).float().mean()) if len(x) else 0.0


def obtain_classifier(cid: ClassifierId, *, data: DatasetSplits | None = None, device: torch.device | str = "auto",
                      cache: ArtifactCache | None = None, progress: bool = True,
                      report: JobProgress | None = None) -> LoadedClassifier:
    """The trained classifier ``cid``: cached, or trained now and cached."""
    device = resolve_device(device) if isinstance(device, str) else device
    if cid.arch.startswith(ZOO_PREFIX):
        if cid.recipe != PRETRAINED:
            raise InvalidInputError(f"{cid.arch} is a pretrained zoo model; use recipe {PRETRAINED!r}")
        name = cid.arch[len(ZOO_PREFIX):]
        return LoadedClassifier(load_zoo_model(name, cid.dataset).to(device), f"zoo-{name}", {"source": cid.arch}, False)
    data = data if data is not None else load_dataset(cid.dataset)
    cache = cache or ArtifactCache()
    key = classifier_key(cid, data)
    model = build_arch(cid.arch, data)
    artifact = cache.load("classifiers", key)
    if artifact is not None:
        model.load_state_dict(artifact.tensors)
        return LoadedClassifier(model.to(device).eval(), key, artifact.metadata, False)
    recipe = make_recipe(cid)
    torch.manual_seed(cid.seed)
    model = build_arch(cid.arch, data)  # initialised under the seed
    stats = train(model, recipe, data.train, seed=cid.seed, device=device, progress=progress, report=report)
    metadata = {"identity": cid.label(), "recipe": recipe.identity(), "device": str(device), "torch": torch.__version__,
                "clean_accuracy": accuracy(model, data.test.x, data.test.y, device), **stats}
    cache.save("classifiers", key, model.state_dict(), metadata)
    log.info("trained %s in %.1fs", cid.label(), stats["train_seconds"])
    return LoadedClassifier(model.eval(), key, metadata, True)


def load_classifier(dataset: str, arch: str, recipe: str, seed: int = 0, *, device: str = "auto", **recipe_params: Any) -> nn.Module:
    """A trained classifier in eval mode (trained on a cache miss)."""
    return obtain_classifier(ClassifierId(dataset, arch, recipe, seed, recipe_params), device=device).model
