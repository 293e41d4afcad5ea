"""Training recipes for base classifiers: one shared loop, one loss per recipe.

A recipe is the published algorithm (its loss on a batch) plus its
hyperparameters; per-dataset presets fill in what the user does not give.
``VERSION`` of each recipe enters the cache key, so changing a recipe's code
means bumping it and old checkpoints are not reused.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm.auto import tqdm

from bench.data.splits import Split
from bench.job_progress import JobProgress
from bench.errors import InvalidInputError


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every recipe, plus the threat model it trains against."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"  # "sgd" (momentum 0.9, nesterov off) or "adam"
    lr: float = 0.1
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # "cosine" or "constant"
    eps: float = 8 / 255
    step_size: float = 2 / 255
    attack_steps: int = 10
    eps_warmup_epochs: int = 0  # eps grows linearly over these epochs (helps small-data MNIST training)

    @classmethod
    def from_params(cls, base: "TrainConfig", params: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(params) - known - set(RECIPE_EXTRA_PARAMS)
        if unknown:
            raise InvalidInputError(f"unknown recipe parameter(s) {sorted(unknown)}; valid: {sorted(known | set(RECIPE_EXTRA_PARAMS))}")
        return replace(base, **{k: v for k, v in params.items() if k in known})


#: Parameters specific to one recipe, validated by that recipe.
RECIPE_EXTRA_PARAMS = ("beta", "gamma", "smooth_clean", "smooth_adv")


class Recipe(ABC):
    """A training algorithm: ``batch_loss`` is the whole of what differs between recipes."""

    VERSION: ClassVar[str] = "1"
    #: Dataset name -> defaults for that dataset (``"*"`` for any other dataset).
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    @abstractmethod
    def batch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
        """The scalar loss to minimise on one batch."""

    def identity(self) -> dict[str, Any]:
        return {"recipe": type(self).__name__, "version": self.VERSION, "config": asdict(self.config), **self.extra_identity()}

    def extra_identity(self) -> dict[str, Any]:
        return {}

    def eps_at(self, epoch_progress: float) -> float:
        warm = self.config.eps_warmup_epochs
        return self.config.eps * min(1.0, epoch_progress / warm) if warm > 0 else self.config.eps


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    raise InvalidInputError(f"unknown optimizer {config.optimizer!r}; use sgd or adam")


def train(model: nn.Module, recipe: Recipe, data: Split, *, seed: int, device: torch.device, progress: bool = True,
          report: JobProgress | None = None) -> dict[str, float]:
    """Trains ``model`` in place with ``recipe``; returns the seconds taken and the last epoch's mean loss.

    ``report`` hears the epoch and batch under way (a job's progress line).
    """
    report = report or JobProgress()
    config = recipe.config
    torch.manual_seed(seed)
    generator = torch.Generator(device=device).manual_seed(seed)
    order_gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    opt = _optimizer(model, config)
    batches = (len(data) + config.batch_size - 1) // config.batch_size
    total = config.epochs * batches
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total) if config.schedule == "cosine" else None
    start = time.perf_counter()
    bar = tqdm(total=total, desc=f"train {type(recipe).__name__.lower()}", disable=not progress, leave=False)
    last_loss = float("nan")
    for epoch in range(config.epochs):
        perm = torch.randperm(len(data), generator=order_gen)
        running = 0.0
        with report.part("epoch", epoch, config.epochs):
            for b in range(batches):
                idx = perm[b * config.batch_size : (b + 1) * config.batch_size]
                x, y = data.x[idx].to(device), data.y[idx].to(device)
                eps = recipe.eps_at(epoch + b / batches)
                loss = recipe.batch_loss(model, x, y, eps, generator)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                running += loss.item()
                bar.update()
                report.tick("batch", b + 1, batches)
        last_loss = running / batches
        bar.set_postfix(loss=f"{last_loss:.3f}")
    bar.close()
    model.eval()
    return {"train_seconds": time.perf_counter() - start, "final_loss": last_loss}
