"""Stage 1 of DIR: the denoiser learns to reconstruct clean images from masked natural and adversarial samples.

The adversarial samples are crafted once, before training, by PGD on the
frozen base classifier (the README: "PGD attack against standard
adversarially trained model"), at the configured eps and step for
``pretrain_steps`` steps.  Each batch holds the clean images and their
adversarial versions, each with fresh complementary masks, and the
restoration of both is pulled towards the clean image (mean squared error).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attacks.iterative import iterate
from attacks.losses import cross_entropy
from attacks.norms import Norm, random_start
from bench.data.splits import Split
from bench.job_progress import JobProgress
from defenses.batches import shuffled_batches
from defenses.dir.config import DIRConfig
from defenses.dir.masks import random_mask
from defenses.dir.restoration import restore


def classifier_adversaries(classifier: nn.Module, train: Split, cfg: DIRConfig, *, generator: torch.Generator,
                           device: torch.device) -> torch.Tensor:
    """PGD examples of the whole split against the frozen classifier, kept on the CPU."""
    crafted = []
    for start in range(0, len(train), cfg.batch_size):
        x, y = train.x[start : start + cfg.batch_size].to(device), train.y[start : start + cfg.batch_size].to(device)
        with torch.enable_grad():
            x_adv = iterate(classifier, x, y, eps=cfg.eps, step_size=cfg.step, steps=cfg.pretrain_steps, norm=Norm.LINF,
                            loss=cross_entropy, start=random_start(x, cfg.eps, Norm.LINF, generator))
        crafted.append(x_adv.detach().cpu())
    return torch.cat(crafted)


def reconstruction_loss(denoiser: nn.Module, x: torch.Tensor, x_adv: torch.Tensor, cfg: DIRConfig,
                        generator: torch.Generator) -> torch.Tensor:
    inputs = torch.cat([x, x_adv])
    mask = random_mask(len(inputs), *x.shape[-2:], cfg.patch, generator=generator, device=x.device, dtype=x.dtype)
    return F.mse_loss(restore(denoiser, inputs, mask, cfg.combine), torch.cat([x, x]))


def pretrain(denoiser: nn.Module, classifier: nn.Module, train: Split, cfg: DIRConfig, *, seed: int,
             device: torch.device, progress: bool = False, report: JobProgress | None = None) -> dict[str, float]:
    """Stage 1 in place; returns the first and the last epoch's reconstruction loss."""
    order_gen = torch.Generator().manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed + 1)
    adversaries = classifier_adversaries(classifier, train, cfg, generator=generator, device=device)
    optimizer = torch.optim.Adam(denoiser.parameters(), lr=cfg.pretrain_lr)
    losses: list[float] = []
    for epoch in range(cfg.pretrain_epochs):
        batches = shuffled_batches(len(train), cfg.batch_size, order_gen,
                                   desc=f"dir pre-training {epoch + 1}/{cfg.pretrain_epochs}", progress=progress,
                                   report=report, epoch=(epoch, cfg.pretrain_epochs))
        for idx in batches:
            loss = reconstruction_loss(denoiser, train.x[idx].to(device), adversaries[idx].to(device), cfg, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    if not losses:
        return {}
    per_epoch = max(len(losses) // cfg.pretrain_epochs, 1)
    return {"first_reconstruction_loss": losses[0], "last_epoch_reconstruction_loss": sum(losses[-per_epoch:]) / per_epoch}
