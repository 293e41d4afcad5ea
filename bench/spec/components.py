"""Building the components a spec names, once each, while it is validated.

Validation needs the objects anyway (an attack's norm, the refusals of a
threat, a defense's flags), and a bad parameter must fail now, in a message
naming the table to fix.  What is built here is what the planner and the runs
use, so no component is built from its parameters a second time.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from bench.defense_objects import new_defense
from bench.errors import UserError
from bench.jobs import AttackRef, ThreatRef
from bench.spec.model import Component, Components, SpecError

#: How a component of each kind is built from its description.
_BUILD: dict[str, Callable[[Component], Any]] = {
    "defense": lambda comp: comp.instance if comp.instance is not None else new_defense(comp.base, comp.params),
    "attack": lambda comp: _with_instance(AttackRef(comp.label, comp.base, dict(comp.params))),
    "threat": lambda comp: _with_instance(ThreatRef(comp.label, comp.base, dict(comp.params))),
}


def _with_instance(ref: Any) -> Any:
    """``ref`` with its object built now, so that a bad parameter fails here."""
    ref.instance  # noqa: B018 - built and kept by the reference
    return ref


class ComponentBuilder:
    """Each label's component, built on first use from the spec's description (or the registered name's defaults)."""

    def __init__(self, defenses: Mapping[str, Component], attacks: Mapping[str, Component],
                 threats: Mapping[str, Component]) -> None:
        self._descriptions = {"defense": defenses, "attack": attacks, "threat": threats}
        self._built: dict[str, dict[str, Any]] = {kind: {} for kind in _BUILD}

    def defense(self, label: str) -> Any:  # -> defenses.Defense
        return self._get("defense", label)

    def attack(self, label: str) -> AttackRef:
        return self._get("attack", label)

    def threat(self, label: str) -> ThreatRef:
        return self._get("threat", label)

    def build_declared(self) -> None:
        """Build every component the spec's tables describe, used by a block or not, so a bad parameter fails now."""
        for kind, descriptions in self._descriptions.items():
            for label in descriptions:
                self._get(kind, label)

    def components(self) -> Components:
        return Components(defenses=dict(self._built["defense"]), attacks=dict(self._built["attack"]),
                          threats=dict(self._built["threat"]))

    def _get(self, kind: str, label: str) -> Any:
        built = self._built[kind]
        if label not in built:
            comp = self._descriptions[kind].get(label, Component(label, label))
            try:
                built[label] = _BUILD[kind](comp)
            except (TypeError, UserError) as exc:
                raise SpecError(f"{kind}_params.{comp.label} (a {comp.base!r} {kind}): {exc}") from None
        return built[label]
