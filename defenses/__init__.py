"""Defenses (input purifiers) and their stacks; ``Defense`` is the base type for plugins."""

from defenses import aid, none  # noqa: F401  (registration)
from defenses import pixeldefend  # noqa: F401  (registration)
from defenses import defensegan  # noqa: F401  (registration)
from defenses import nrp  # noqa: F401  (registration)
from defenses import dir  # noqa: F401,A004  (registration)
from defenses.base import Defense, FitContext
from defenses.registry import DEFENSES
from defenses.stack import Stack, parse_stack

__all__ = ["DEFENSES", "Defense", "FitContext", "Stack", "parse_stack"]
