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

Parameters left as ``None`` take the dataset's preset at ``build``/``fit``
time (``defenses.pixeldefend.presets``).  A fitted state is loaded with
``build(ctx)`` followed by ``load_state_dict``.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import torch

from bench.choice import Choice
from bench.errors import InvalidInputError
from defenses.base import FitContext
from defenses.pixeldefend.config import PixelDefendConfig
from defenses.pixeldefend.decode_fast import decode_fast
from defenses.pixeldefend.decode_naive import decode_naive
from defenses.pixeldefend.levels import to_images, to_levels
from defenses.pixeldefend.network import PixelCNN
from defenses.pixeldefend.presets import PRESETS, resolve
from defenses.pixeldefend.training import train_pixelcnn
from defenses.preset_defense import PresetDefense
from defenses.registry import DEFENSES
from defenses.seeding import build_seeded

#: Images decoded together; bounds the fast decoder's float64 canvases (about 230 MB for 256 mnist5k images).
DECODE_BATCH = 256


class Decoder(Choice):
    FAST = "fast"
    NAIVE = "naive"

    @classmethod
    def what(cls) -> str:
        return "pixeldefend decoder"


DECODERS = {Decoder.FAST: decode_fast, Decoder.NAIVE: decode_naive}


class PixelDefend(PresetDefense):
    """PixelDefend: eps-bounded greedy decoding of the input under a PixelCNN trained on clean data."""

    NAME: ClassVar[str] = "pixeldefend"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = PRESETS
    PLACEHOLDERS: ClassVar[dict[str, Any]] = {"eps": 0.0}
    NETWORK: ClassVar[str] = "pixelcnn"
    resolve = staticmethod(resolve)
    differentiable: ClassVar[bool] = False
    unrollable: ClassVar[bool] = False
    randomized: ClassVar[bool] = False
    VERSION: ClassVar[str] = "1"
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset({"eps"})
    #: Both decoders give the same output: one fitted state, and every result computed with it, serves both.
    IMPLEMENTATION_PARAMS: ClassVar[frozenset[str]] = frozenset({"decoder"})
    config: PixelDefendConfig | None

    def __init__(self, *, eps: float | None = None, hidden: int | None = None, blocks: int | None = None,
                 first_kernel: int | None = None, kernel: int | None = None, epochs: int | None = None,
                 batch_size: int | None = None, lr: float | None = None, decoder: Decoder | str = Decoder.FAST) -> None:
        super().__init__()
        self.decoder = Decoder.coerce(decoder)
        self.pixelcnn: PixelCNN | None = None

    def _build_networks(self, ctx: FitContext) -> None:
        """An untrained PixelCNN for the images of ``ctx.train``."""
        cfg = self.config
        net = build_seeded(lambda: PixelCNN(ctx.train.x.shape[1], cfg.hidden, cfg.blocks, cfg.first_kernel, cfg.kernel), ctx.seed)
        self.pixelcnn = net.to(ctx.device).eval()

    def _train(self, ctx: FitContext) -> dict[str, float]:
        """Maximum-likelihood training on ``ctx.train`` (the classifier is not used)."""
        return train_pixelcnn(self.pixelcnn, ctx.train, self.config, seed=ctx.seed, device=ctx.device, progress=ctx.progress,
                              report=ctx.report)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(x, self.decoder)

    def decode(self, x: torch.Tensor, decoder: Decoder | str) -> torch.Tensor:
        """``purify`` with the given decoder (both give the same output; the benchmark compares their time)."""
        self._require_built()
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


@DEFENSES.register("pixeldefend")
def pixeldefend(**params: Any) -> PixelDefend:
    return PixelDefend(**params)
