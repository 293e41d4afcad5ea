"""The ``defensegan`` defense (Samangouei et al., ICLR 2018) as a purebench Defense.

``fit`` trains a DCGAN on the training split; ``purify`` returns G(z*), the
generator's closest image to the input found by L restarts of R Adam steps
on ||G(z) - x||^2 (``defenses.defensegan.search``).

Flags.  The restarts start from L points drawn once with ``restart_seed``,
so ``purify`` is a deterministic function of each image: ``randomized`` is
False, and the same input always gives the same output, whatever batch it
comes in (up to the rounding of batched kernels; the original draws fresh starting points on every call; sweeping
``restart_seed`` gives that behaviour's spread).  ``purify`` is an inner
optimisation, so the defense declares itself non-differentiable and
``unrollable``: ``unrolled_purify`` backpropagates through the whole search.
That exact gradient differentiates L x R generator steps at every step of an
attack (over five CPU minutes for one PGD-40 on 25 mnist5k digits), so the
defense also declares ``gradient_impractical``: adaptive attacks use BPDA
(the identity) through the search, as Athalye et al. (2018) broke
Defense-GAN, unless the adaptive threat's gradient mode is ``unrolled``.

Parameters left as ``None`` take the dataset's preset at ``build``/``fit``
time (``defenses.defensegan.presets``).  A fitted state is loaded with
``build(ctx)`` followed by ``load_state_dict``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from bench.errors import InvalidInputError
from defenses.base import FitContext
from defenses.defensegan.config import DefenseGANConfig
from defenses.defensegan.networks import Discriminator, Generator
from defenses.defensegan.presets import PRESETS, resolve
from defenses.defensegan.search import Reconstruction, search, starting_points
from defenses.defensegan.training import train_gan
from defenses.preset_defense import PresetDefense
from defenses.registry import DEFENSES
from defenses.seeding import build_seeded


class DefenseGAN(PresetDefense):
    """Defense-GAN: the input replaced by the closest image a GAN trained on clean data can generate."""

    NAME: ClassVar[str] = "defensegan"
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = PRESETS
    PLACEHOLDERS: ClassVar[dict[str, Any]] = {"restarts": 1, "search_steps": 0}
    NETWORK: ClassVar[str] = "generator"
    resolve = staticmethod(resolve)
    differentiable: ClassVar[bool] = False
    unrollable: ClassVar[bool] = True
    gradient_impractical: ClassVar[bool] = True
    randomized: ClassVar[bool] = False
    VERSION: ClassVar[str] = "1"
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset({"restarts", "search_steps", "search_lr", "restart_seed"})
    config: DefenseGANConfig | None

    def __init__(self, *, restarts: int | None = None, search_steps: int | None = None, search_lr: float | None = None,
                 restart_seed: int | None = None, latent: int | None = None, width: int | None = None,
                 train_steps: int | None = None, batch_size: int | None = None, lr: float | None = None,
                 beta1: float | None = None) -> None:
        super().__init__()
        self.generator: Generator | None = None
        self.discriminator: Discriminator | None = None

    def _build_networks(self, ctx: FitContext) -> None:
        """An untrained GAN for the images of ``ctx.train``."""
        cfg = self.config
        image_shape = tuple(ctx.train.x.shape[1:])
        generator, discriminator = build_seeded(
            lambda: (Generator(cfg.latent, cfg.width, image_shape), Discriminator(cfg.width, image_shape)), ctx.seed)
        self.generator = generator.to(ctx.device).eval().requires_grad_(False)
        self.discriminator = discriminator.to(ctx.device).eval().requires_grad_(False)

    def _train(self, ctx: FitContext) -> dict[str, float]:
        """DCGAN training on ``ctx.train`` (the classifier is not used)."""
        return train_gan(self.generator, self.discriminator, ctx.train, self.config, seed=ctx.seed, device=ctx.device,
                         progress=ctx.progress, report=ctx.report)

    def reconstruct(self, x: torch.Tensor, *, search_steps: int | None = None, create_graph: bool = False) -> Reconstruction:
        """The latent search on ``x`` (``search_steps`` overrides R, e.g. to study its convergence)."""
        self._require_built()
        cfg = self.config
        shape = self.generator.image_shape
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise InvalidInputError(f"defensegan was fitted to images (N, {', '.join(map(str, shape))}); got shape {tuple(x.shape)}")
        starts = starting_points(cfg.restarts, cfg.latent, cfg.restart_seed)
        steps = cfg.search_steps if search_steps is None else search_steps
        return search(self.generator, x, starts, steps=steps, lr=cfg.search_lr, create_graph=create_graph)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(x.detach()).images.detach()

    def unrolled_purify(self, x: torch.Tensor) -> torch.Tensor:
        """G(z*) as a differentiable function of ``x``, through every step of the search."""
        return self.reconstruct(x, create_graph=True).images


@DEFENSES.register("defensegan")
def defensegan(**params: Any) -> DefenseGAN:
    return DefenseGAN(**params)
