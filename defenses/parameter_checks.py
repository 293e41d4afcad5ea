"""Range checks of a defense's numeric parameters, worded alike for every defense."""

from __future__ import annotations

from typing import Any

from bench.errors import InvalidInputError


def check_number(defense: str, name: str, value: Any, *, minimum: float = 0, strict: bool = False,
                 integer: bool = False) -> None:
    """``value`` is a number (an integer where ``integer``; a bool is neither) >= ``minimum``, or > where ``strict``."""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise InvalidInputError(f"{defense} parameter {name} must be {'an integer' if integer else 'a number'} "
                                f"{relation} {minimum:g}, got {value!r}")
