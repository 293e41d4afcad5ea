"""The ``dir`` defense: information discard and robust representation restoration (Zhou et al., ICML 2023).

``purify`` draws complementary masks, restores the two masked copies with the
denoiser and combines them (``defenses.dir.restoration``).  By default the
masks are drawn afresh on every call from torch's global generator (seeded by
the evaluation), so the defense is ``randomized`` and the adaptive threat
model uses EOT.  With ``mask_seed`` set, one mask pattern drawn from that
seed serves every image and every call: purification is then a fixed
function and the defense declares itself not randomized, but an adaptive
attacker also knows which pixels each copy discards.  Either way it is a
feed-forward computation, hence ``differentiable``.

Training (``fit``): stage 1 pre-trains the denoiser to reconstruct masked
natural and adversarial samples (``defenses.dir.pretraining``), stage 2 adds
L_adv and L_rep (``defenses.dir.training``).  Parameters left as ``None``
take the dataset's preset (``defenses.dir.config``).  The fitted state is the
denoiser; load it with ``build(ctx)`` followed by ``load_state_dict``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from bench.models.frozen import frozen
from defenses.base import FitContext
from defenses.dir.config import PRESETS, DIRConfig, resolve
from defenses.dir.denoiser import Denoiser
from defenses.dir.masks import random_mask
from defenses.dir.pretraining import pretrain
from defenses.dir.restoration import restored_image
from defenses.dir.training import train_dir
from defenses.preset_defense import PresetDefense
from defenses.registry import DEFENSES
from defenses.seeding import build_seeded


class DIRPurifier(PresetDefense):
    """DIR: a denoiser restoring robust images from complementary masked copies of the input."""

    NAME: ClassVar[str] = "dir"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = PRESETS
    NETWORK: ClassVar[str] = "denoiser"
    resolve = staticmethod(resolve)
    differentiable: ClassVar[bool] = True
    VERSION: ClassVar[str] = "1"
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset({"mask_seed"})  # combine is used in training too
    config: DIRConfig | None

    def __init__(
        self,
        *,
        width: int | None = None,
        patch: int | None = None,
        combine: str | None = None,
        mask_seed: int | None = None,
        eps: float | None = None,
        step: float | None = None,
        pretrain_epochs: int | None = None,
        pretrain_steps: int | None = None,
        epochs: int | None = None,
        attack_steps: int | None = None,
        rep_steps: int | None = None,
        rep_fraction: float | None = None,
        rep_weight: float | None = None,
        recon_weight: float | None = None,
        batch_size: int | None = None,
        pretrain_lr: float | None = None,
        lr: float | None = None,
    ) -> None:
        super().__init__()
        self.randomized = mask_seed is None  # instance flag: fresh masks per call unless seeded
        self.denoiser: Denoiser | None = None

    def _build_networks(self, ctx: FitContext) -> None:
        net = build_seeded(lambda: Denoiser(ctx.train.x.shape[1], self.config.width), ctx.seed)
        dtype = next(ctx.classifier.parameters()).dtype
        self.denoiser = net.to(device=ctx.device, dtype=dtype).eval().requires_grad_(False)

    def _train(self, ctx: FitContext) -> dict[str, float]:
        """Both training stages, crafting every training attack."""
        with frozen(ctx.classifier):
            self.denoiser.train().requires_grad_(True)
            try:
                with ctx.report.part("stage", 0, 2):
                    pretrained = pretrain(self.denoiser, ctx.classifier, ctx.train, self.config, seed=ctx.seed,
                                          device=ctx.device, progress=ctx.progress, report=ctx.report)
                with ctx.report.part("stage", 1, 2):
                    return {**pretrained, **train_dir(self.denoiser, ctx.classifier, ctx.train, self.config, seed=ctx.seed,
                                                      device=ctx.device, progress=ctx.progress, report=ctx.report)}
            finally:
                self.denoiser.eval().requires_grad_(False)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        self._require_built()
        seed = self.config.mask_seed
        generator = torch.Generator(device=x.device).manual_seed(seed) if seed is not None else None
        mask = random_mask(1 if seed is not None else len(x), *x.shape[-2:], self.config.patch, generator=generator,
                           device=x.device, dtype=x.dtype)
        return restored_image(self.denoiser, x, mask, self.config.combine)


@DEFENSES.register("dir")
def dir_(**params: Any) -> DIRPurifier:
    return DIRPurifier(**params)
