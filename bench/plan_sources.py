"""Transfer sources: which surrogate classifier a transfer attack is crafted on.

Syntax: ``(same|ARCH)[/RECIPE][@SEED]``.

- ``same``: the target's own arch with another seed (the paper's S=T); the
  seed defaults to the target's seed + 1.
- ``ARCH`` (e.g. ``vgg19``, ``lenet``): another arch (S!=T); the seed
  defaults to the target's seed.
- ``/RECIPE`` trains the surrogate with that recipe instead of the target's
  (``same/natural`` is one naturally trained surrogate shared by every target).
- ``@SEED`` fixes the surrogate's seed.

A source that resolves to the target itself is refused: that is a white-box
attack, not a transfer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.errors import UserError

SAME = "same"
_PATTERN = re.compile(r"^(?P<arch>[^/@\s]+)(?:/(?P<recipe>[^/@\s]+))?(?:@(?P<seed>\d+))?$")


class SourceError(UserError, ValueError):
    """A transfer source that cannot be parsed or resolved."""


@dataclass(frozen=True)
class TransferSource:
    text: str
    arch: str | None  # None: the target's arch (S=T)
    recipe: str | None  # None: the target's recipe
    seed: int | None  # None: target seed + 1 for S=T, the target's seed otherwise

    def resolve(self, arch: str, recipe: str, seed: int) -> tuple[str, str, int]:
        """The surrogate's (arch, recipe label, seed) for a target with these."""
        src_arch = self.arch or arch
        default_seed = seed + 1 if self.arch is None else seed
        resolved = (src_arch, self.recipe or recipe, self.seed if self.seed is not None else default_seed)
        if resolved == (arch, recipe, seed):
            raise SourceError(f"transfer source {self.text!r} is the target {arch}/{recipe}@{seed} itself; "
                              f"use '{SAME}' (another seed) or another arch")
        return resolved

    @staticmethod
    def kind(source_arch: str, target_arch: str) -> str:
        """``S=T`` when the surrogate shares the target's arch, else ``S!=T`` (the paper's Table 4 labels)."""
        return "S=T" if source_arch == target_arch else "S!=T"


def parse_source(text: str) -> TransferSource:
    match = _PATTERN.match(text.strip())
    if not match:
        raise SourceError(f"bad transfer source {text!r}; write (same|ARCH)[/RECIPE][@SEED], e.g. 'same', 'vgg19', "
                          "'same/natural@1'")
    arch, recipe, seed = match["arch"], match["recipe"], match["seed"]
    return TransferSource(text.strip(), None if arch == SAME else arch, recipe, int(seed) if seed is not None else None)
