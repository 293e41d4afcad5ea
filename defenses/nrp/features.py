"""F, the feature network of SSP and of NRP's feature loss: trained here, since ImageNet's VGG cannot be downloaded.

NRP trains its purifier with features of a network that is not the defended
one (VGG-16 trained on ImageNet), so the purifier removes perturbations
that distort representations in general, not the quirks of one classifier.
``natural`` keeps that separation: an arch of purebench (``feature_arch``,
smallcnn by default) trained naturally for ``feature_epochs`` on the same
training split, with its own seed; only the purifier enters the defense's
state, so F costs nothing at inference.  ``classifier`` reads the frozen base
classifier instead: cheaper to fit, but the purifier then learns the
defended model's own feature space.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.data.splits import Split
from bench.models import ARCHS
from bench.models.taps import forward_with_taps
from bench.job_progress import JobProgress
from bench.recipes.base import train
from bench.recipes.registry import RECIPES
from defenses.nrp.config import FeatureSource, NRPConfig


def num_classes(classifier: nn.Module, image_shape: torch.Size, device: torch.device) -> int:
    """The number of outputs of ``classifier``, read from one blank image."""
    with torch.no_grad():
        return int(classifier(torch.zeros(1, *image_shape, device=device)).shape[1])


def feature_network(cfg: NRPConfig, classifier: nn.Module, dataset: str, data: Split, *, seed: int,
                    device: torch.device, progress: bool, report: JobProgress | None = None) -> nn.Module:
    """F in eval mode with gradients off: the base classifier, or a network trained naturally now."""
    if cfg.features is FeatureSource.CLASSIFIER:
        return classifier
    shape = data.x.shape[1:]
    mean, std = data.x.mean(dim=(0, 2, 3)).tolist(), data.x.std(dim=(0, 2, 3)).tolist()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ARCHS.create(cfg.feature_arch, num_classes=num_classes(classifier, shape, device), image_shape=tuple(shape),
                           mean=mean, std=std)
    recipe = RECIPES.create("natural", dataset=dataset, epochs=cfg.feature_epochs)
    train(net, recipe, data, seed=seed, device=device, progress=progress, report=report)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def tap(net: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """The ``layer`` activation of ``net`` on ``x``."""
    return forward_with_taps(net, x, [layer])[1][layer]
