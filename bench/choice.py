"""Closed sets of names, coerced at the boundary (RobustBench's ``Enum`` style).

A spec, a CLI flag or a keyword may give a member or its name in any case; an
unknown name raises an error listing the valid ones.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any, TypeVar

from bench.errors import InvalidInputError

C = TypeVar("C", bound="Choice")


class Choice(str, Enum):
    """Base of the project's string enums: ``coerce`` turns user input into a member or a clear error."""

    @classmethod
    def what(cls) -> str:
        """How error messages name the set: the class name in words (``ThreatModel`` -> "threat model")."""
        return re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()

    @classmethod
    def coerce(cls: type[C], value: Any) -> C:
        try:
            return cls(str(value.value if isinstance(value, Enum) else value).lower())
        except ValueError:
            raise InvalidInputError(f"unknown {cls.what()} {value!r}; use one of: {', '.join(c.value for c in cls)}") from None
