"""Name -> factory registries with third-party plugins (timm's pattern).

Each kind of component (datasets, archs, recipes, defenses, attacks) has one
``Registry``.  Built-in components register with a decorator; installed
packages add theirs through an entry-point group ``purebench.<kind>``, loaded
the first time the registry is looked at, so a plugin needs no change here.
"""

from __future__ import annotations

import difflib
import fnmatch
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterable, TypeVar

from bench.component_params import accepted_parameters
from bench.errors import UnknownNameError, UnknownParameterError

T = TypeVar("T")


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`` (did you mean 'mnist5k'?)`` for the closest valid names, or nothing."""
    close = difflib.get_close_matches(name, list(valid), n=2, cutoff=0.6)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


class Registry(Generic[T]):
    """Factories of one kind of component, addressed by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.group = f"purebench.{kind}"
        self._factories: dict[str, Callable[..., T]] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name``; a name is taken once."""

        def decorate(factory: Callable[..., T]) -> Callable[..., T]:
            self.add(name, factory)
            return factory

        return decorate

    def add(self, name: str, factory: Callable[..., T]) -> None:
        if not name or any(c in name for c in "+,=: \t"):
            raise ValueError(f"{self.kind} name {name!r} must be non-empty, without '+', ',', '=', ':' or spaces")
        if name in self._factories:
            raise ValueError(f"{self.kind} {name!r} is already registered; pick another name")
        self._factories[name] = factory

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name in self._factories:
                raise ValueError(
                    f"plugin {ep.value!r} registers {self.kind} {ep.name!r}, which is already registered"
                )
            self._factories[ep.name] = ep.load()

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``; an unknown name lists the valid ones."""
        self._load_plugins()
        try:
            return self._factories[name]
        except KeyError:
            valid = ", ".join(self.names()) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}; "
                                   f"valid names: {valid}") from None

    def create(self, name: str, **kwargs: object) -> T:
        """``name`` built with ``kwargs``; a parameter it does not take is refused with the ones it does."""
        factory = self.get(name)
        accepted = accepted_parameters(factory)
        unknown = [k for k in kwargs if accepted is not None and k not in accepted]
        if unknown:
            hints = "".join(did_you_mean(k, accepted or []) for k in unknown)
            raise UnknownParameterError(f"{self.kind} {name!r} has no parameter {', '.join(map(repr, unknown))}{hints}; "
                                        f"its parameters: {', '.join(sorted(accepted or [])) or '(none)'}")
        return factory(**kwargs)

    def names(self, pattern: str = "*") -> list[str]:
        self._load_plugins()
        return sorted(n for n in self._factories if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._factories
