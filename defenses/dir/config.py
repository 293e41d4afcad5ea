"""The resolved configuration of one DIR purifier, with per-dataset presets.

The DIR README gives the training stages but no hyperparameters; every value
here is ours.  ``eps`` is the threat model the denoiser is trained against
(mnist5k: the Madry MNIST 0.3; other datasets: 8/255).  ``rep_eps`` bounds
the perturbation of the restored image in L_rep, half of ``eps``; ``rep_weight``
weighs L_rep against L_adv, ``recon_weight`` the reconstruction anchor of stage
2 (``defenses.dir.training``).  Masks are pixel-wise (``patch=1``) and restorations
combined by ``fill``: on mnist5k/madry, after pre-training alone, pixel masks kept
more clean accuracy than 2x2 patches (92% against 87.5%, n=200) and resisted
PGD-40 as well (64% against 60%); ``mean`` reached 95.5% / 63.5% but lets every
output pixel see its own input value, which is what the masks exist to prevent.
The mnist5k sizes (16-channel U-Net, 4 pre-training epochs, 1 DIR epoch with
3-step attacks) fit a 2-core CPU in minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from bench.choice import Choice
from defenses.parameter_checks import check_number
from defenses.preset_defense import merged_preset


class Combine(Choice):
    """How the restorations of the two complementary copies make one image."""

    FILL = "fill"  # each pixel from the copy that did not see it: no output pixel depends on its own input value
    MEAN = "mean"  # the mean of the two full restorations

    @classmethod
    def what(cls) -> str:
        return "dir combine"


@dataclass(frozen=True)
class DIRConfig:
    """Everything that determines a fitted DIR purifier and its inference."""

    width: int
    eps: float
    step: float
    pretrain_epochs: int
    epochs: int
    patch: int = 1
    combine: Combine = Combine.FILL
    mask_seed: int | None = None
    pretrain_steps: int = 10
    attack_steps: int = 3
    rep_steps: int = 3
    rep_fraction: float = 0.5
    rep_weight: float = 1.0
    recon_weight: float = 10.0
    batch_size: int = 64
    pretrain_lr: float = 1e-3
    lr: float = 5e-4

    def __post_init__(self) -> None:
        object.__setattr__(self, "combine", Combine.coerce(self.combine))
        for name in ("width", "patch", "pretrain_steps", "attack_steps", "rep_steps", "batch_size"):
            check_number("dir", name, getattr(self, name), integer=True, strict=True)
        for name in ("pretrain_epochs", "epochs"):
            check_number("dir", name, getattr(self, name), integer=True, strict=False)
        for name in ("eps", "rep_fraction", "rep_weight", "recon_weight"):
            check_number("dir", name, getattr(self, name), integer=False, strict=False)
        for name in ("step", "pretrain_lr", "lr"):
            check_number("dir", name, getattr(self, name), integer=False, strict=True)
        if self.mask_seed is not None:
            check_number("dir", "mask_seed", self.mask_seed, integer=True, strict=False)

    @property
    def rep_eps(self) -> float:
        """The L-inf bound of L_rep's perturbation of the restored image."""
        return self.rep_fraction * self.eps

    @property
    def rep_step(self) -> float:
        """Madry's step rule, 2.5 * bound / steps, for L_rep's inner maximisation."""
        return 2.5 * self.rep_eps / self.rep_steps

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    "mnist5k": {"width": 16, "eps": 0.3, "step": 0.1, "pretrain_epochs": 4, "epochs": 1},
    "*": {"width": 32, "eps": 8 / 255, "step": 2 / 255, "pretrain_epochs": 20, "epochs": 10},
}


def resolve(dataset: str, overrides: Mapping[str, Any]) -> DIRConfig:
    """The preset of ``dataset`` (``"*"`` for any other) with every non-None override applied."""
    return DIRConfig(**merged_preset("dir", PRESETS, dataset, overrides))
