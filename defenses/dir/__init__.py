"""DIR (the ``dir`` defense): complementary masks and robust representation restoration."""

from defenses.dir.defense import DIRPurifier

__all__ = ["DIRPurifier"]
