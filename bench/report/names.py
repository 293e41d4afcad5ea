"""How results are named in a report: column order, classifiers, stand-alone vs add-on, safe file names.

Names come from specs and plugins, so they are data: they are shown as text
(the templates escape them) and never used as file names without ``slug``.
"""

from __future__ import annotations

import hashlib
import re

from bench.worst import NONE_STACK  # noqa: F401  (the report's modules name it from here)

NATURAL = "natural"
COLUMN_ORDER = ("clean", "pgd", "cw", "deepfool", "mim", "autoattack")
STAND_ALONE = "Stand-alone (natural training)"
ADD_ON = "Add-on (adversarially trained)"
GIVEN = "Given classifiers (training not known)"
GIVEN_SOURCES = frozenset({"checkpoint", "module"})  # bench.external_classifiers: a weights file or an nn.Module
SECTION_ORDER = (STAND_ALONE, ADD_ON, GIVEN)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
SLUG_LENGTH = 60


def column_rank(base: str) -> int:
    """Table 3's column order; attacks the paper does not name come after AutoAttack."""
    return COLUMN_ORDER.index(base) if base in COLUMN_ORDER else len(COLUMN_ORDER)


def section_of(recipe_base: str) -> str:
    """Table 1's grouping: a purifier on a naturally trained classifier stands alone, on another recipe it is an add-on.

    A classifier given from outside (a checkpoint or a module) has no known
    training, so it gets a group of its own rather than a guessed one.
    """
    if recipe_base in GIVEN_SOURCES:
        return GIVEN
    return STAND_ALONE if recipe_base == NATURAL else ADD_ON


def slug(*parts: str) -> str:
    """A file name stem made of ``parts``: safe characters only, short, and distinct for distinct inputs."""
    text = "-".join(parts)
    safe = _UNSAFE.sub("-", text).strip("-.")[:SLUG_LENGTH] or "x"
    if safe == text:
        return safe
    return f"{safe}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def anchor(*parts: str) -> str:
    """An HTML id: a slug that starts with a letter."""
    return "s-" + slug(*parts)


def mathtext_safe(text: str) -> str:
    """Text for matplotlib: a ``$`` would start mathtext, so it is escaped."""
    return text.replace("$", r"\$")


def eps_text(eps: float) -> str:
    return f"{eps:g}"
