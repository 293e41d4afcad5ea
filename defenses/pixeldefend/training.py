"""Maximum-likelihood training of the PixelCNN on the training split's 8-bit levels.

Adam on the mean cross-entropy of every sub-pixel's 256-way softmax.  Batch
order comes from a generator seeded by ``seed`` and the weights are
initialised under the same seed, so a fit is reproducible on the CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from bench.data.splits import Split
from bench.job_progress import JobProgress
from defenses.batches import shuffled_batches
from defenses.pixeldefend.config import PixelDefendConfig
from defenses.pixeldefend.levels import to_levels
from defenses.pixeldefend.network import PixelCNN


def negative_log_likelihood(net: PixelCNN, levels: torch.Tensor) -> torch.Tensor:
    """Mean NLL per sub-pixel in nats (divide by ln 2 for bits per dimension)."""
    return F.cross_entropy(net(levels).transpose(1, 2), levels)


def train_pixelcnn(net: PixelCNN, train: Split, cfg: PixelDefendConfig, *, seed: int, device: torch.device,
                   progress: bool = False, report: JobProgress | None = None) -> dict[str, float]:
    """Fit ``net`` to ``train``; returns the first and the last epoch's training loss in bits per dimension."""
    order_generator = torch.Generator().manual_seed(seed)
    levels = to_levels(train.x)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    net.train()
    losses: list[float] = []
    for epoch in range(cfg.epochs):
        batches = shuffled_batches(len(levels), cfg.batch_size, order_generator,
                                   desc=f"pixelcnn epoch {epoch + 1}/{cfg.epochs}", progress=progress,
                                   report=report, epoch=(epoch, cfg.epochs))
        for idx in batches:
            loss = negative_log_likelihood(net, levels[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item() / math.log(2))
    optimizer.zero_grad(set_to_none=True)
    net.eval()
    per_epoch = max(len(losses) // cfg.epochs, 1)
    return {"batches": float(len(losses)), "first_bits_per_dim": losses[0],
            "last_epoch_bits_per_dim": sum(losses[-per_epoch:]) / per_epoch}
