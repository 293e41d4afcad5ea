"""``run_bench.py list KIND``: a line per registered name saying what it is, plugins included.

The description is the first line of the factory's docstring, else of the
module defining it or of the class it returns (the class first for defenses
and attacks), so a plugin documents itself by writing docstrings.  Defenses add the flags adaptive attacks act on
(EOT for randomized stages, BPDA or unrolling for non-differentiable ones),
as an instance with its default parameters declares them.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from bench.component_params import returned_class
from bench.registry import Registry


def first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def description(factory: Callable[..., Any], class_first: bool = False) -> str:
    """What a registered factory makes, in one line (empty when nothing documents it); ``class_first`` where each
    name has a class of its own (defenses, attacks), whose docstring says more than a shared module's."""
    cls = returned_class(factory)
    module = sys.modules.get(getattr(factory, "__module__", ""), None)
    docs = [factory.__doc__, getattr(module, "__doc__", None)]
    docs.insert(0 if class_first else 2, cls.__doc__ if cls is not None else None)
    return next((first_line(doc) for doc in docs if first_line(doc)), "")


def defense_flags(factory: Callable[..., Any]) -> str:
    """``[randomized, not differentiable]``: the declared flags of the defense the factory makes by default."""
    defense = factory()
    randomized = "randomized" if defense.randomized else "deterministic"
    differentiable = "differentiable" if defense.differentiable else "not differentiable"
    return f"[{randomized}, {differentiable}]"


def catalog(registry: Registry[Any], flags: Callable[[Callable[..., Any]], str] | None = None,
            class_first: bool = False) -> list[str]:
    """One aligned line per name: the name first (so ``cut -d' ' -f1`` gives the names), then what it is."""
    names = registry.names()
    width = max(map(len, names), default=0)
    lines = []
    for name in names:
        factory = registry.get(name)
        parts = [flags(factory)] if flags is not None else []
        parts.append(description(factory, class_first))
        lines.append(f"{name:<{width}}  {' '.join(p for p in parts if p)}".rstrip())
    return lines
