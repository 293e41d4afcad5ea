"""AID-Purifier (the ``aid`` defense): discriminator, Algorithm 1 training, Algorithm 2 purification."""

from defenses.aid.defense import AIDPurifier

__all__ = ["AIDPurifier"]
