"""Training the purifier to undo self-supervised perturbations (NRP, Naseer et al. 2020).

For each mini-batch of clean images x (labels are never used for learning):

1. x' = SSP(x): the registered ``ssp`` attack on F, from a random point of
   the eps-ball, ``ssp_steps`` signed steps maximising ||F(x') - F(x)||^2;
2. the purifier minimises
   ``feature_weight * ||F(P(x')) - F(x)||^2 + pixel_weight * ||P(x') - x||^2
   + adv_weight * relativistic critic loss`` (``defenses.nrp.losses``),
   with P(x') clipped to [0, 1] (what inference returns) for the feature and
   critic terms and unclipped for the pixel term, so pixels outside the box
   still get a gradient towards it;
3. the critic takes one step on its own relativistic loss.

Adam for both networks.  Batch order and the attack's random starts come
from generators seeded by ``seed``, so a fit is reproducible on the CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from attacks.base import Attack
from attacks.registry import ATTACKS
from bench.data.splits import Split
from bench.errors import UserError
from bench.job_progress import JobProgress
from defenses.batches import shuffled_batches
from defenses.nrp.config import NRPConfig
from defenses.nrp.critic import Critic
from defenses.nrp.features import tap
from defenses.nrp.losses import critic_loss, feature_loss, pixel_loss, purifier_adversarial_loss


def ssp_attack(cfg: NRPConfig) -> Attack:
    if "ssp" not in ATTACKS:
        raise UserError(f"nrp trains against the 'ssp' attack, which is not registered (registered: {', '.join(ATTACKS.names())}); "
                        "install the attacks package that provides it")
    return ATTACKS.create("ssp", layer=cfg.feature_layer, steps=cfg.ssp_steps, step_size=cfg.ssp_step)


def train_purifier(purifier: nn.Module, critic: Critic, features: nn.Module, train: Split, cfg: NRPConfig, *, seed: int,
                   device: torch.device, progress: bool = False, report: JobProgress | None = None) -> dict[str, float]:
    """Train ``purifier`` (and ``critic``) in place; returns loss statistics of the run.

    ``restoration`` is the feature plus pixel part of the purifier's loss, the
    part that measures how well P(x') recovers x; the critic term is reported
    apart because it moves with the critic.
    """
    order_gen = torch.Generator().manual_seed(seed)
    attack_gen = torch.Generator(device=device).manual_seed(seed + 1)
    attack = ssp_attack(cfg)
    opt_p = torch.optim.Adam(purifier.parameters(), lr=cfg.lr)
    opt_c = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
    restoration: list[float] = []
    adversarial: list[float] = []
    purifier.train()
    critic.train()
    for epoch in range(cfg.epochs):
        batches = shuffled_batches(len(train), cfg.batch_size, order_gen, desc=f"nrp epoch {epoch + 1}/{cfg.epochs}",
                                   progress=progress, report=report, epoch=(epoch, cfg.epochs))
        for idx in batches:
            x, y = train.x[idx].to(device), train.y[idx].to(device)
            with torch.enable_grad():
                x_ssp = attack(features, x, y, cfg.eps, generator=attack_gen).x_adv
            raw = purifier(x_ssp)
            purified = raw.clamp(0.0, 1.0)
            with torch.no_grad():
                clean_features = tap(features, x, cfg.feature_layer)
            restore = (cfg.feature_weight * feature_loss(tap(features, purified, cfg.feature_layer), clean_features)
                       + cfg.pixel_weight * pixel_loss(raw, x))
            score_clean = critic(x)
            adv = purifier_adversarial_loss(critic(purified), score_clean.detach())
            opt_p.zero_grad(set_to_none=True)
            (restore + cfg.adv_weight * adv).backward()
            opt_p.step()
            opt_c.zero_grad(set_to_none=True)
            critic_loss(score_clean, critic(purified.detach())).backward()
            opt_c.step()
            restoration.append(restore.item())
            adversarial.append(adv.item())
    purifier.eval()
    per_epoch = max(len(restoration) // cfg.epochs, 1)
    return {"batches": float(len(restoration)), "first_restoration_loss": restoration[0],
            "last_epoch_restoration_loss": sum(restoration[-per_epoch:]) / per_epoch,
            "last_epoch_adversarial_loss": sum(adversarial[-per_epoch:]) / per_epoch}
