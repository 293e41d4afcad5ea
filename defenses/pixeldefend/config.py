"""The resolved configuration of one PixelDefend: the PixelCNN's shape, its training, the defense radius."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.errors import InvalidInputError
from defenses.parameter_checks import check_number

#: Intensities per sub-pixel: images are decoded on the 8-bit grid 0..255.
LEVELS = 256


@dataclass(frozen=True)
class PixelDefendConfig:
    """Everything that determines a fitted PixelDefend and its purification."""

    eps: float  # defense radius in pixel units; decoded on the grid as round(eps * 255) levels
    hidden: int = 32  # feature channels of every layer (a multiple of the image's channels)
    blocks: int = 4  # residual blocks after the first (mask A) convolution
    first_kernel: int = 7
    kernel: int = 3
    epochs: int = 3
    batch_size: int = 32
    lr: float = 2e-3

    def __post_init__(self) -> None:
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not 0 <= self.eps <= 1:
            raise InvalidInputError(f"pixeldefend eps must be a number in [0, 1] (pixel units, e.g. 16/255), got {self.eps!r}")
        for name in ("hidden", "epochs", "batch_size"):
            check_number("pixeldefend", name, getattr(self, name), minimum=1, integer=True)
        check_number("pixeldefend", "blocks", self.blocks, integer=True)
        for name in ("first_kernel", "kernel"):
            value = getattr(self, name)
            check_number("pixeldefend", name, value, minimum=1, integer=True)
            if value % 2 == 0:
                raise InvalidInputError(f"pixeldefend {name} must be odd (a centred masked convolution), got {value}")
        check_number("pixeldefend", "lr", self.lr, strict=True)

    @property
    def eps_levels(self) -> int:
        """The radius on the 8-bit grid: each decoded level lies within this many levels of the input's."""
        return round(self.eps * (LEVELS - 1))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
