"""The ``pixeldefend`` defense (Song et al., ICLR 2018) as a purebench Defense.

``fit`` trains a PixelCNN on the training split; ``purify`` quantises the
input to 8-bit levels and decodes it greedily, sub-pixel by sub-pixel in
raster then channel order, each level set to the most likely one within
``eps_levels = round(eps * 255)`` levels of the input's own, conditioned on
the sub-pixels already purified.  What it promises: every output is k / 255
for an integer k with |k - round(255 x)| <= eps_levels, hence
|purify(x) - x| <= (eps_levels + 1/2) / 255.

Decoding runs the network in float64.  ``decoder="fast"`` (default) is the
incremental decoder, ``"naive"`` the reference one; they give the same output
(``defenses.pixeldefend.decode_fast`` says why), so the choice only changes the
time.  Purification is an argmax over levels, a step function of the input:
the defense declares itself non-differentiable (BPDA in adaptive attacks) and
deterministic.

Parameters left as ``None`` take the dataset's preset at ``attach``/``fit``
time (``defenses.pixeldefend.presets``).  A fitted state is loaded with
``attach(ctx)`` followed by ``load_state_dict``.
"""

from __future__ import annotations

import copy
import time
from enum import Enum
from typing import Any, ClassVar

import torch

from bench.errors import InvalidInputError, UserError
from bench.hashing import content_key
from defenses.base import Defense, FitContext
from defenses.pixeldefend.config import PixelDefendConfig
from defenses.pixeldefend.decode_fast import decode_fast
from defenses.pixeldefend.decode_naive import decode_naive
from defenses.pixeldefend.levels import to_images, to_levels
from defenses.pixeldefend.network import PixelCNN
from defenses.pixeldefend.presets import PRESETS, resolve
from defenses.pixeldefend.training import train_pixelcnn
from defenses.registry import DEFENSES
from defenses.seeding import build_seeded

#: Images decoded together; bounds the fast decoder's float64 canvases (about 230 MB for 256 mnist5k images).
DECODE_BATCH = 256


class Decoder(str, Enum):
    FAST = "fast"
    NAIVE = "naive"

    @classmethod
    def coerce(cls, value: "Decoder | str") -> "Decoder":
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(f"unknown pixeldefend decoder {value!r}; use one of: {', '.join(d.value for d in cls)}") from None


DECODERS = {Decoder.FAST: decode_fast, Decoder.NAIVE: decode_naive}


class PixelDefend(Defense):
    """PixelDefend: eps-bounded greedy decoding of the input under a PixelCNN trained on clean data."""

    differentiable: ClassVar[bool] = False
    unrollable: ClassVar[bool] = False
    randomized: ClassVar[bool] = False
    VERSION: ClassVar[str] = "1"
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset({"eps"})

    def __init__(self, *, eps: float | None = None, hidden: int | None = None, blocks: int | None = None,
                 first_kernel: int | None = None, kernel: int | None = None, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, decoder: Decoder | str = Decoder.FAST) -> None:
        params = {k: v for k, v in locals().items() if k not in ("self", "__class__", "decoder")}
        self.decoder = Decoder.coerce(decoder)
        super().__init__(**params, decoder=self.decoder.value)
        PixelDefendConfig(**{"eps": 0.0, **{k: v for k, v in params.items() if v is not None}})  # fail on a typo now
        self.config: PixelDefendConfig | None = None
        self.pixelcnn: PixelCNN | None = None
        self.fit_seconds: float | None = None
        self.fit_stats: dict[str, float] = {}

    def identity(self) -> dict[str, Any]:
        """The constructor parameters (None: the dataset preset) and a digest of the preset table.

        ``decoder`` is left out: both decoders give the same output, so one
        fitted state (and every result computed with it) serves both.
        """
        base = super().identity()
        params = {k: v for k, v in base["params"].items() if k != "decoder"}
        return {**base, "params": params, "presets": content_key(PRESETS)}

    def attach(self, ctx: FitContext) -> None:
        """Resolve the configuration for ``ctx.dataset`` and build an untrained PixelCNN for its images."""
        self.config = resolve(ctx.dataset, {k: v for k, v in self.params.items() if k != "decoder"})
        cfg = self.config
        net = build_seeded(lambda: PixelCNN(ctx.train.x.shape[1], cfg.hidden, cfg.blocks, cfg.first_kernel, cfg.kernel), ctx.seed)
        self.pixelcnn = net.to(ctx.device).eval()

    def fit(self, ctx: FitContext) -> None:
        """Maximum-likelihood training on ``ctx.train`` (the classifier is not used)."""
        if len(ctx.train) == 0:
            raise InvalidInputError("pixeldefend needs a non-empty training split")
        begin = time.perf_counter()
        self.attach(ctx)
        self.fit_stats = train_pixelcnn(self.pixelcnn, ctx.train, self.config, seed=ctx.seed, device=ctx.device,
                                        progress=ctx.progress)
        self.fit_seconds = time.perf_counter() - begin

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._require_attached()
        super().load_state_dict(state)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(x, self.decoder)

    def decode(self, x: torch.Tensor, decoder: Decoder | str) -> torch.Tensor:
        """``purify`` with the given decoder (both give the same output; the benchmark compares their time)."""
        self._require_attached()
        if x.ndim != 4 or x.shape[1] != self.pixelcnn.colours:
            raise InvalidInputError(
                f"pixeldefend was fitted to images with {self.pixelcnn.colours} channels (N, C, H, W); got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise InvalidInputError("pixeldefend expects pixels in [0, 1]; clip or rescale the images first")
        decode = DECODERS[Decoder.coerce(decoder)]
        net = copy.deepcopy(self.pixelcnn).to(device=x.device, dtype=torch.float64).eval()
        levels = to_levels(x)
        out = [decode(net, chunk, self.config.eps_levels) for chunk in levels.split(DECODE_BATCH)]
        return to_images(torch.cat(out), x.dtype)

    def _require_attached(self) -> None:
        if self.pixelcnn is None or self.config is None:
            raise UserError("this pixeldefend defense has no PixelCNN yet; call fit(ctx), or attach(ctx) then load_state_dict(state)")


@DEFENSES.register("pixeldefend")
def pixeldefend(**params: Any) -> PixelDefend:
    return PixelDefend(**params)
