"""Algorithm 1: training the discriminator on the frozen classifier's taps.

Each mini-batch is attacked on the frozen classifier (PGD by default, at the
training eps and step), augmented (AVmixup by default, ``augment``), and D
takes one SGD step on the BCE of eq. 1 (lr 0.01, momentum 0.9, weight decay
2e-4, one epoch: appendix A.3).  All randomness (batch order, the attack's
random start, u) comes from generators seeded by ``seed``, so a fit is
reproducible on the CPU.  The classifier must be passed frozen (``frozen``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attacks.base import Attack
from attacks.registry import ATTACKS
from bench.data.splits import Split
from bench.errors import UserError
from defenses.aid.augment import T_ADV, T_CLEAN, augment
from defenses.aid.config import AIDConfig, Targets
from defenses.aid.discriminator import Discriminator
from defenses.aid.features import pooled_taps
from bench.job_progress import JobProgress
from defenses.batches import shuffled_batches


def training_attack(cfg: AIDConfig) -> Attack:
    """The attack of Algorithm 1, line 4, from the attack registry (appendix G.2's PGD, C&W, DeepFool).

    ``train_step``/``train_steps`` apply to PGD only; other attacks take
    ``train_attack_params`` (Foolbox's C&W defaults run 9 x 10,000 steps per
    batch).  ``train_eps`` is the radius in the attack's own norm: an L2 radius
    for C&W, where the presets' L-inf values are too small to mean anything.
    """
    if cfg.train_attack not in ATTACKS:
        raise UserError(
            f"aid train_attack {cfg.train_attack!r} is not a registered attack (registered: {', '.join(ATTACKS.names())}); "
            "install the package that provides it or use train_attack='pgd'"
        )
    params = dict(cfg.train_attack_params)
    if cfg.train_attack == "pgd":
        params = {"steps": cfg.train_steps, "step_size": cfg.train_step, **params}
    return ATTACKS.create(cfg.train_attack, **params)


def training_batch(classifier: nn.Module, attack: Attack, x: torch.Tensor, y: torch.Tensor, cfg: AIDConfig,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_hat, t_hat)``: the attacked and augmented batch of Algorithm 1, lines 4-9."""
    with torch.enable_grad():
        x_adv = attack(classifier, x, y, cfg.train_eps, generator=generator).x_adv
    return augment(x, x_adv, cfg.augmentation, cfg.gamma, generator)


def discriminator_loss(disc: Discriminator, classifier: nn.Module, cfg: AIDConfig, x_hat: torch.Tensor,
                       t_hat: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The mean BCE of eq. 1 under ``cfg.targets``.

    ``bce``: D(h(x_hat)) against t_hat.  ``contrastive``: the Deep InfoMax
    pairing of section 2.2 on the same inputs: the first tap of each example
    with the other taps of the same example is a matched pair (t = t_clean),
    with the other taps of a different example of the batch a mismatched pair
    (t = t_adv); t_hat is not used.  Purification then moves x towards
    taps that look like a matched pair.
    """
    with torch.no_grad():
        features = pooled_taps(classifier, x_hat, cfg.taps)
    if cfg.targets is Targets.BCE:
        return F.binary_cross_entropy_with_logits(disc(features), t_hat)
    n = len(x_hat)
    order = torch.randperm(n, generator=generator, device=x_hat.device)
    partner = torch.empty_like(order)
    partner[order] = order.roll(1)  # a cyclic derangement: nobody is paired with itself (n >= 2)
    mismatched = [features[0]] + [h[partner] for h in features[1:]]
    logits = disc([torch.cat([a, b]) for a, b in zip(features, mismatched)])
    targets = torch.cat([torch.full((n,), T_CLEAN), torch.full((n,), T_ADV)]).to(logits)
    return F.binary_cross_entropy_with_logits(logits, targets)


def train_discriminator(disc: Discriminator, classifier: nn.Module, train: Split, cfg: AIDConfig, *, seed: int,
                        device: torch.device, progress: bool = False,
                        report: JobProgress | None = None) -> dict[str, float]:
    """Run Algorithm 1 on ``train``; returns loss statistics of the run."""
    root = torch.Generator().manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(int(torch.randint(2**62, (1,), generator=root)))
    attack = training_attack(cfg)
    optimizer = torch.optim.SGD(disc.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    losses: list[float] = []
    for epoch in range(cfg.epochs):
        batches = shuffled_batches(len(train), cfg.batch_size, root, desc=f"aid epoch {epoch + 1}/{cfg.epochs}",
                                   progress=progress, report=report, epoch=(epoch, cfg.epochs))
        for idx in batches:
            x, y = train.x[idx].to(device), train.y[idx].to(device)
            x_hat, t_hat = training_batch(classifier, attack, x, y, cfg, generator)
            loss = discriminator_loss(disc, classifier, cfg, x_hat, t_hat, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    per_epoch = max(len(losses) // cfg.epochs, 1)
    return {"batches": float(len(losses)), "first_loss": losses[0], "last_epoch_loss": sum(losses[-per_epoch:]) / per_epoch}
