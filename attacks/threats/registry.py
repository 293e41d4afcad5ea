"""The threat-model registry: factories ``(**params) -> ThreatModel``, plugins from ``purebench.threats``."""

from __future__ import annotations

from attacks.threats.model import Role, ThreatModel
from bench.errors import InvalidInputError, UnknownNameError
from bench.registry import Registry

THREATS: Registry[ThreatModel] = Registry("threats")


def threat_model(name: str, **params: object) -> ThreatModel:
    """The threat registered as ``name`` with ``params`` (validated by its constructor)."""
    threat = THREATS.create(name, **params)
    if not isinstance(threat, ThreatModel):
        raise InvalidInputError(f"the threat factory {name!r} returned a {type(threat).__name__}; it must return an "
                                "attacks.threats.ThreatModel")
    return threat


def role_of(name: str) -> Role:
    """Where the report shows results of the threat ``name``; ``other`` when it is not installed here."""
    try:
        return threat_model(name).role
    except UnknownNameError:
        return Role.OTHER
