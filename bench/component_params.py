"""The parameters of a component: the names its factory accepts, and every one an instance ran with.

A spec names only what it overrides; a reader comparing with a paper needs
the rest too (the report's settings tables), and a misspelt name deserves the
list of valid ones rather than Python's ``TypeError``.  The values are the constructor's defaults (its own and those
of the base classes it forwards ``**kwargs`` to) with the given parameters on
top, the norm the instance actually uses, and for a defense configured from a
dataset preset its resolved configuration.  ``None`` stays ``None``: the
wrapped library's own default (AutoAttack's ``n_iter``, for instance).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from typing import Any, Callable, Mapping

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


def returned_class(factory: Callable[..., Any]) -> type | None:
    """The class a factory's return annotation names (``def pgd(**params) -> PGD``), if it can be resolved."""
    if isinstance(factory, type):
        return factory
    try:
        returned = typing.get_type_hints(factory).get("return")
    except Exception:  # noqa: BLE001 - an annotation that does not resolve says nothing about the parameters
        return None
    return returned if isinstance(returned, type) else None


def accepted_parameters(factory: Callable[..., Any]) -> list[str] | None:
    """The keyword names ``factory`` accepts: its own, or, where it only forwards ``**params``, those of the class it
    returns and the bases that class forwards to; None where it cannot be known (any name may be accepted)."""
    names: list[str] = []
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    names += [p.name for p in parameters if p.kind not in _SKIPPED]
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return names
    if names:
        return None  # ``def madry(dataset, **params)``: the rest goes elsewhere than the returned class's constructor
    cls = returned_class(factory)
    if cls is None:
        return None
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            return None  # **kwargs forwarded all the way: anything goes
        own = inspect.signature(init).parameters.values()
        names += [p.name for p in own if p.name != "self" and p.kind not in _SKIPPED and p.name not in names]
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own):
            return names
    return None


def resolved_settings(component: Any, given: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters ``component`` (built from ``given``) runs with, sorted by name."""
    values = {**constructor_defaults(type(component)), **given}
    if hasattr(component, "norm"):
        values["norm"] = component.norm
    config = getattr(component, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        values.update({f.name: getattr(config, f.name) for f in dataclasses.fields(config)})
    return {name: _plain(values[name]) for name in sorted(values)}
