"""The ``aid`` defense: AID-Purifier (a discriminator on two classifier taps) as a purebench Defense.

Parameters left as ``None`` take the dataset's preset at ``build``/``fit``
time (``defenses.aid.presets``); everything else is the paper's default.
``purify`` is Algorithm 2, a gradient procedure, so the defense declares
itself non-differentiable and ``unrollable``: adaptive attacks differentiate
``unrolled_purify``, the differentiable unrolling (or BPDA, when asked).  ``aux_loss`` is D's
BCE towards "clean", the L_D of the auxiliary-aware attack (eq. 2).

A fitted state is loaded with ``build(ctx)`` (builds D for that classifier
and dataset) followed by ``load_state_dict``.  The classifier is never
modified: it runs in eval mode with gradients off, and its mode and flags are
restored after every call.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.models.frozen import frozen
from defenses.aid.augment import T_CLEAN
from defenses.aid.config import AIDConfig, Surrogate
from defenses.aid.discriminator import Discriminator
from defenses.aid.features import classifier_dtype, pooled_taps, tap_widths
from defenses.aid.presets import PRESETS, resolve
from defenses.aid.purification import purify
from defenses.aid.training import train_discriminator
from defenses.aid.unrolled import unrolled_purify
from defenses.base import FitContext
from defenses.preset_defense import PresetDefense
from defenses.registry import DEFENSES
from defenses.seeding import build_seeded


class AIDPurifier(PresetDefense):
    """AID-Purifier: purification by descending a clean-vs-adversarial discriminator on the classifier's taps."""

    NAME: ClassVar[str] = "aid"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = PRESETS
    #: Stand-ins for the preset values, used only to check the given parameters at construction.
    PLACEHOLDERS: ClassVar[dict[str, Any]] = {"taps": ("low", "high"), "train_eps": 0.0, "train_step": 1.0, "gamma": 1.0,
                                              "eps": 0.0, "step": 1.0, "steps": 1}
    NETWORK: ClassVar[str] = "discriminator"
    resolve = staticmethod(resolve)
    differentiable: ClassVar[bool] = False
    unrollable: ClassVar[bool] = True
    randomized: ClassVar[bool] = False
    VERSION: ClassVar[str] = "1"
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset({"eps", "step", "steps", "surrogate", "temperature", "box_gradient"})
    config: AIDConfig | None

    def __init__(
        self,
        *,
        taps: Sequence[str] | str | None = None,
        train_eps: float | None = None,
        train_step: float | None = None,
        train_steps: int | None = None,
        gamma: float | None = None,
        eps: float | None = None,
        step: float | None = None,
        steps: int | None = None,
        width: int | None = None,
        branch_depth: int | None = None,
        head_depth: int | None = None,
        targets: str | None = None,
        augmentation: str | None = None,
        train_attack: str | None = None,
        train_attack_params: Mapping[str, Any] | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        momentum: float | None = None,
        surrogate: str | None = None,
        temperature: float | None = None,
        box_gradient: str | None = None,
    ) -> None:
        super().__init__()
        self.classifier: nn.Module | None = None
        self.discriminator: Discriminator | None = None

    def _build_networks(self, ctx: FitContext) -> None:
        """An untrained D for ``ctx.classifier``."""
        self.classifier = ctx.classifier
        widths = tap_widths(ctx.classifier, ctx.train.x.shape[1:], self.config.taps, ctx.device)
        cfg = self.config
        disc = build_seeded(lambda: Discriminator(widths, cfg.width, cfg.branch_depth, cfg.head_depth), ctx.seed)
        self.discriminator = disc.to(device=ctx.device, dtype=classifier_dtype(ctx.classifier))

    def _train(self, ctx: FitContext) -> dict[str, float]:
        """Algorithm 1 on ``ctx.train``, crafting the training attacks."""
        with frozen(ctx.classifier):
            return train_discriminator(self.discriminator, ctx.classifier, ctx.train, self.config, seed=ctx.seed,
                                       device=ctx.device, progress=ctx.progress, report=ctx.report)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """D's logit of p_adv for each example (the classifier must be frozen by the caller)."""
        return self.discriminator(pooled_taps(self.classifier, x, self.config.taps))

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        self._require_built()
        cfg = self.config
        with frozen(self.classifier):
            return purify(self.logits, x, eps=cfg.eps, step=cfg.step, steps=cfg.steps)

    def unrolled_purify(self, x: torch.Tensor) -> torch.Tensor:
        self._require_built()
        cfg = self.config
        with frozen(self.classifier):
            return unrolled_purify(self.logits, x, eps=cfg.eps, step=cfg.step, steps=cfg.steps,
                                   surrogate=cfg.surrogate, temperature=cfg.temperature, box_gradient=cfg.box_gradient)

    @property
    def unrolled_exact(self) -> bool:
        """The straight-through sign keeps Algorithm 2's values (``defenses.aid.unrolled``); ``tanh`` does not."""
        return self.config is not None and self.config.surrogate is Surrogate.STE

    def aux_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Per-example BCE of D towards "clean" (t = 0), differentiable in ``x``: L_D of eq. 2."""
        self._require_built()
        with frozen(self.classifier):
            logits = self.logits(x)
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, T_CLEAN), reduction="none")


@DEFENSES.register("aid")
def aid(**params: Any) -> AIDPurifier:
    return AIDPurifier(**params)
