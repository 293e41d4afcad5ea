"""Stage 2 of DIR: robust representation restoration with L_adv and L_rep; the classifier stays frozen.

For each mini-batch, with fresh complementary masks m:

- L_adv: x_adv maximises the cross-entropy of the ensemble C(restore(g, ., m))
  (PGD, ``attack_steps`` steps of ``step`` in the eps-ball, random start),
  and the denoiser minimises CE(C(r), y) with r = restore(g, x_adv, m)
  clipped to [0, 1];
- L_rep: a perturbation delta of the restored image r (L-inf ``rep_eps``,
  ``rep_steps`` PGD steps from a random start) maximises
  KL(C(r) || C(r + delta)); the denoiser minimises that KL with delta fixed,
  the gradient flowing through r in both terms.

- reconstruction: stage 1's loss, the mean squared error of the unclipped r
  from the clean x, kept as an anchor (our addition; the README is silent).

The loss is L_adv + ``rep_weight`` * L_rep + ``recon_weight`` * reconstruction.
Without the anchor, L_rep drives the denoiser towards blank images on which
the frozen classifier is flat (KL near 0, measured on mnist5k/madry: clean
accuracy fell to 9%); the DIR reference can rely on updating the classifier
too (with its own learning rate), but in purebench defenses attach to a
frozen classifier, so only the denoiser learns here.
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
from defenses.dir.restoration import restore, restored_image


def kl_from(reference_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-example KL(softmax(reference) || softmax(logits))."""
    return F.kl_div(F.log_softmax(logits, dim=1), F.log_softmax(reference_logits, dim=1), log_target=True,
                    reduction="none").sum(1)


class RepresentationDistortion:
    """The loss L_rep's inner maximisation ascends: KL of C's output at the perturbed point from that at r."""

    def __init__(self, reference_logits: torch.Tensor) -> None:
        self.reference_logits = reference_logits

    def __call__(self, classifier: nn.Module, r: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return kl_from(self.reference_logits, classifier(r))


def dir_losses(denoiser: nn.Module, classifier: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: DIRConfig,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_adv, L_rep, reconstruction) of one batch, differentiable in the denoiser's parameters."""
    mask = random_mask(len(x), *x.shape[-2:], cfg.patch, generator=generator, device=x.device, dtype=x.dtype)

    def ensemble(inputs: torch.Tensor) -> torch.Tensor:
        return classifier(restored_image(denoiser, inputs, mask, cfg.combine))

    x_adv = iterate(ensemble, x, y, eps=cfg.eps, step_size=cfg.step, steps=cfg.attack_steps, norm=Norm.LINF,
                    loss=cross_entropy, start=random_start(x, cfg.eps, Norm.LINF, generator)).detach()
    raw = restore(denoiser, x_adv, mask, cfg.combine)
    restored = raw.clamp(0.0, 1.0)
    logits = classifier(restored)
    anchor = restored.detach()
    perturbed = iterate(classifier, anchor, y, eps=cfg.rep_eps, step_size=cfg.rep_step, steps=cfg.rep_steps, norm=Norm.LINF,
                        loss=RepresentationDistortion(logits.detach()), start=random_start(anchor, cfg.rep_eps, Norm.LINF, generator))
    delta = (perturbed - anchor).detach()
    l_rep = kl_from(logits, classifier((restored + delta).clamp(0.0, 1.0))).mean()
    return F.cross_entropy(logits, y), l_rep, F.mse_loss(raw, x)


def train_dir(denoiser: nn.Module, classifier: nn.Module, train: Split, cfg: DIRConfig, *, seed: int,
              device: torch.device, progress: bool = False, report: JobProgress | None = None) -> dict[str, float]:
    """Stage 2 in place; returns the first and the last epoch's L_adv and L_rep."""
    order_gen = torch.Generator().manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed + 2)
    optimizer = torch.optim.Adam(denoiser.parameters(), lr=cfg.lr)
    adv_losses: list[float] = []
    rep_losses: list[float] = []
    for epoch in range(cfg.epochs):
        batches = shuffled_batches(len(train), cfg.batch_size, order_gen, desc=f"dir training {epoch + 1}/{cfg.epochs}",
                                   progress=progress, report=report, epoch=(epoch, cfg.epochs))
        for idx in batches:
            x, y = train.x[idx].to(device), train.y[idx].to(device)
            l_adv, l_rep, l_recon = dir_losses(denoiser, classifier, x, y, cfg, generator)
            optimizer.zero_grad(set_to_none=True)
            (l_adv + cfg.rep_weight * l_rep + cfg.recon_weight * l_recon).backward()
            optimizer.step()
            adv_losses.append(l_adv.item())
            rep_losses.append(l_rep.item())
    if not adv_losses:
        return {}
    per_epoch = max(len(adv_losses) // cfg.epochs, 1)
    return {"first_adv_loss": adv_losses[0], "last_epoch_adv_loss": sum(adv_losses[-per_epoch:]) / per_epoch,
            "first_rep_loss": rep_losses[0], "last_epoch_rep_loss": sum(rep_losses[-per_epoch:]) / per_epoch}
