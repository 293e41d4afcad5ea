"""PixelDefend (the ``pixeldefend`` defense): a PixelCNN and eps-bounded greedy decoding, naive and fast."""

from defenses.pixeldefend.defense import PixelDefend

__all__ = ["PixelDefend"]
