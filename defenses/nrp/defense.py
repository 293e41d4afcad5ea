"""The ``nrp`` defense: Neural Representation Purifier (Naseer et al., CVPR 2020) as a purebench Defense.

A feed-forward purifier trained to undo self-supervised perturbations
(``defenses.nrp.training``); ``purify`` is one forward pass clipped to
[0, 1], so the defense is ``differentiable`` and adaptive attacks take its
exact gradient.  ``dynamic=True`` is NRP's dynamic inference: random noise
before purifying (``defenses.nrp.dynamic``), declared ``randomized`` so the
adaptive threat model averages gradients over samples (EOT).

Parameters left as ``None`` take the dataset's preset (``defenses.nrp.config``).
The fitted state is the purifier alone (F and the critic serve training
only); load it with ``build(ctx)`` followed by ``load_state_dict``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from bench.models.frozen import frozen
from defenses.base import FitContext
from defenses.nrp.config import PRESETS, NRPConfig, resolve
from defenses.nrp.critic import Critic
from defenses.nrp.dynamic import add_noise
from defenses.nrp.features import feature_network
from defenses.nrp.network import PurifierNet, parameter_count
from defenses.nrp.training import train_purifier
from defenses.preset_defense import PresetDefense
from defenses.registry import DEFENSES
from defenses.seeding import build_seeded


class NRPPurifier(PresetDefense):
    """NRP: a ResNet purifier trained against self-supervised perturbations, optionally with dynamic noise."""

    NAME: ClassVar[str] = "nrp"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = PRESETS
    NETWORK: ClassVar[str] = "purifier"
    resolve = staticmethod(resolve)
    differentiable: ClassVar[bool] = True
    VERSION: ClassVar[str] = "1"
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset({"dynamic", "noise_std", "noise_eps"})
    config: NRPConfig | None

    def __init__(
        self,
        *,
        dynamic: bool | None = None,
        noise_std: float | None = None,
        noise_eps: float | None = None,
        width: int | None = None,
        blocks: int | None = None,
        eps: float | None = None,
        ssp_steps: int | None = None,
        ssp_step: float | None = None,
        features: str | None = None,
        feature_arch: str | None = None,
        feature_layer: str | None = None,
        feature_epochs: int | None = None,
        feature_weight: float | None = None,
        pixel_weight: float | None = None,
        adv_weight: float | None = None,
        critic_width: int | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        critic_lr: float | None = None,
    ) -> None:
        super().__init__()
        self.randomized = bool(dynamic)  # instance flag: noise at inference only when dynamic
        self.purifier: PurifierNet | None = None

    def _build_networks(self, ctx: FitContext) -> None:
        channels = ctx.train.x.shape[1]
        net = build_seeded(lambda: PurifierNet(channels, self.config.width, self.config.blocks), ctx.seed)
        dtype = next(ctx.classifier.parameters()).dtype
        self.purifier = net.to(device=ctx.device, dtype=dtype).eval().requires_grad_(False)

    def _train(self, ctx: FitContext) -> dict[str, float]:
        """F (when ``features='natural'``), then P against SSP."""
        cfg = self.config
        with torch.random.fork_rng(devices=[ctx.device] if ctx.device.type == "cuda" else []), frozen(ctx.classifier):
            torch.manual_seed(ctx.seed)
            critic = Critic(ctx.train.x.shape[1], cfg.critic_width).to(ctx.device)
            with ctx.report.part("stage", 0, 2):
                features = feature_network(cfg, ctx.classifier, ctx.dataset, ctx.train, seed=ctx.seed + 1,
                                           device=ctx.device, progress=ctx.progress, report=ctx.report)
            self.purifier.requires_grad_(True)
            try:
                with ctx.report.part("stage", 1, 2):
                    stats = train_purifier(self.purifier, critic, features, ctx.train, cfg, seed=ctx.seed,
                                           device=ctx.device, progress=ctx.progress, report=ctx.report)
            finally:
                self.purifier.eval().requires_grad_(False)
        return {**stats, "purifier_parameters": float(parameter_count(self.purifier))}

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        self._require_built()
        if self.config.dynamic:
            x = add_noise(x, self.config.noise_std, self.config.noise_eps)
        return self.purifier(x).clamp(0.0, 1.0)


@DEFENSES.register("nrp")
def nrp(**params: Any) -> NRPPurifier:
    return NRPPurifier(**params)
