"""The data model of an experiment spec: its keys, components, matrix blocks and the validated ``Spec``."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from attacks.threats import DEFAULT_THREAT
from bench.errors import UserError
from bench.external_classifiers import ExternalClassifier
from bench.hashing import content_key
from bench.models.robustbench_zoo import PRETRAINED, ZOO_PREFIX
from bench.plan_sources import TransferSource
from bench.spec.audit_settings import AuditSettings

USE = "use"
DEFAULT_LAMBDAS = tuple(round(0.1 * i, 1) for i in range(11))
DEFAULT_BATCH_SIZE = 500
DEFAULT_DRAWS = 5  # evaluations of a randomized stack (the worst over draws is its accuracy)

AXES = ("datasets", "archs", "recipes", "defenses", "attacks", "threats", "eps", "lam", "sources")
AXIS_DEFAULTS: dict[str, list[str]] = {"datasets": ["mnist5k"], "archs": ["smallcnn"], "recipes": ["natural"],
                                       "defenses": ["none"], "attacks": ["pgd"], "threats": [DEFAULT_THREAT]}
SCALARS: dict[str, type] = {"name": str, "description": str, "seed": int, "n": int, "device": str, "batch_size": int,
                            "threads": int, "workers": int, "draws": int}
COMPONENT_TABLES = ("recipe_params", "defense_params", "attack_params", "threat_params")
CLASSIFIERS = "classifiers"
CLASSIFIER_KEYS = ("arch", "checkpoint")
SEEDS = "seeds"  # several seeds: the whole matrix once per seed (classifier, defense fit and attack)
AUDIT, AUDIT_PARAMS = "audit", "audit_params"
BLOCK_KEYS = (*AXES, AUDIT)
TOP_KEYS = (*SCALARS, SEEDS, *AXES, AUDIT, AUDIT_PARAMS, *COMPONENT_TABLES, CLASSIFIERS, "matrix")
LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")  # \Z, not $: "$" would admit a trailing newline
#: A run name becomes file names (results/NAME.sqlite, its -wal, temporary files): well under the 255-byte limit.
MAX_NAME = 100


class SpecError(UserError, ValueError):
    """A spec that cannot be run; the message names the key and the fix."""


@dataclass(frozen=True)
class Component:
    """A named recipe, defense, attack or threat: a registered ``base`` with parameters.

    A defense given as a Python object has ``instance`` set (``base`` is then its
    type's dotted name) and ``digest``, the hash of its contents, in the keys.
    """

    label: str
    base: str
    params: dict[str, Any] = field(default_factory=dict)
    instance: Any = field(default=None, compare=False, repr=False)
    digest: str | None = None

    def identity(self) -> dict[str, Any]:
        identity = {"label": self.label, "base": self.base, "params": self.params}
        return {**identity, "object": self.digest} if self.digest is not None else identity


@dataclass(frozen=True)
class Block:
    """One cross product of the matrix; ``eps`` None means per-attack defaults."""

    datasets: tuple[str, ...]
    archs: tuple[str, ...]
    recipes: tuple[str, ...]
    defenses: tuple[str, ...]
    attacks: tuple[str, ...]
    threats: tuple[str, ...]
    eps: tuple[float, ...] | None
    lam: tuple[float, ...]
    sources: tuple[TransferSource, ...]
    audit: bool = False  # plan the audit of each (classifier, stack) of the block

    def identity(self) -> dict[str, Any]:
        """The block's fields; ``audit`` only when set, so specs without an audit keep their digests."""
        identity = asdict(self)
        if not self.audit:
            identity.pop(AUDIT)
        return identity


@dataclass(frozen=True)
class Spec:
    name: str
    description: str
    seed: int
    n: int | None
    device: str
    batch_size: int
    threads: int | None  # CPU float results depend on it, so it is part of the spec
    blocks: tuple[Block, ...]
    recipes: dict[str, Component]
    defenses: dict[str, Component]  # defense stage labels
    attacks: dict[str, Component]
    threats: dict[str, Component]
    attack_eps: dict[str, tuple[float, ...]]
    default_eps: tuple[float, ...] | None
    text: str = ""  # the TOML it came from, for provenance
    classifiers: dict[str, ExternalClassifier] = field(default_factory=dict)  # trained elsewhere, by label
    workers: int | None = None  # job processes; results do not depend on it, so it is not part of the identity
    draws: int = DEFAULT_DRAWS  # evaluations of each randomized stack
    seeds: tuple[int, ...] = ()  # the matrix once per seed; empty: ``seed`` alone
    data: dict[str, str] = field(default_factory=dict)  # local datasets' content digests, by name
    overrides: dict[str, Any] = field(default_factory=dict)  # what flags and --set changed in the file (spec key -> value)

    @property
    def run_seeds(self) -> tuple[int, ...]:
        """The seeds the matrix runs under."""
        return self.seeds or (self.seed,)
    audit_params: AuditSettings = field(default_factory=AuditSettings)

    @property
    def audits(self) -> bool:
        return any(block.audit for block in self.blocks)

    def identity(self) -> dict[str, Any]:
        """Everything that determines the results (not the name, description, file text or any file path)."""
        identity = {"seed": self.seed, "n": self.n, "device": self.device, "batch_size": self.batch_size,
                    "threads": self.threads, "blocks": [b.identity() for b in self.blocks], "default_eps": self.default_eps,
                    "attack_eps": self.attack_eps,
                    **{kind: {k: c.identity() for k, c in getattr(self, kind).items()}
                       for kind in ("recipes", "defenses", "attacks", "threats")}}
        if self.classifiers:
            identity[CLASSIFIERS] = {k: c.identity() for k, c in self.classifiers.items()}
        if self.draws != DEFAULT_DRAWS:  # the default is left out: a spec without the key keeps its digest
            identity["draws"] = self.draws
        if self.seeds:
            identity[SEEDS] = list(self.seeds)
        if self.data:
            identity["data"] = self.data
        if self.audits:
            identity[AUDIT_PARAMS] = self.audit_params.identity()
        return identity

    def digest(self) -> str:
        return content_key(self.identity())
