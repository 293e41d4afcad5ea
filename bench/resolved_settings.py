"""Every parameter an attack or defense ran with, defaults included: what the report's settings tables show.

A spec names only what it overrides; a reader comparing with a paper needs
the rest too.  The values are the constructor's defaults (its own and those
of the base classes it forwards ``**kwargs`` to) with the given parameters on
top, the norm the instance actually uses, and for a defense configured from a
dataset preset its resolved configuration.  ``None`` stays ``None``: the
wrapped library's own default (AutoAttack's ``n_iter``, for instance).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from typing import Any, Mapping

_SKIPPED = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _plain(value: Any) -> Any:
    """A JSON-friendly form of a parameter value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def constructor_defaults(cls: type) -> dict[str, Any]:
    """Keyword defaults of ``cls.__init__`` and of the bases' ``__init__`` it may forward to (the nearest wins)."""
    defaults: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for name, parameter in inspect.signature(init).parameters.items():
            if name != "self" and parameter.kind not in _SKIPPED and parameter.default is not inspect.Parameter.empty:
                defaults.setdefault(name, parameter.default)
    return defaults


def resolved_settings(component: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters ``component`` (built from ``given``) runs with, sorted by name."""
    values = {**constructor_defaults(type(component)), **given}
    if hasattr(component, "norm"):
        values["norm"] = component.norm
    config = getattr(component, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        values.update({f.name: getattr(config, f.name) for f in dataclasses.fields(config)})
    return {name: _plain(values[name]) for name in sorted(values)}
