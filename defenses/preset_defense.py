"""The life cycle shared by trained defenses whose parameters default to a per-dataset preset.

Parameters left as ``None`` take the dataset's preset when the defense is
bound to a classifier and dataset (``build``, also the first step of
``fit``).  The given ones are checked at construction, against stand-ins for
the preset values, so a typo fails before any training.  ``identity`` adds a
digest of the preset table: editing a preset changes the cache keys of every
state fitted with it, even for a defense whose parameters were all ``None``.

A subclass supplies its table (``PRESETS``), its resolver (``resolve``), the
attribute holding its trained network (``NETWORK``), ``_build_networks``
(the untrained networks, seeded) and ``_train`` (training them in place).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Mapping

import torch

from bench.errors import InvalidInputError, UserError
from bench.hashing import content_key
from defenses.base import Defense, FitContext


class PresetDefense(Defense):
    """A trained defense configured from its dataset's preset, with parameters given at construction on top."""

    #: The registered name, for messages.
    NAME: ClassVar[str]
    #: The per-dataset presets (its digest enters ``identity``).
    PRESETS: ClassVar[Mapping[str, Mapping[str, Any]]]
    #: Stand-ins for the preset values that have no code default, used only to check parameters at construction.
    PLACEHOLDERS: ClassVar[Mapping[str, Any]] = {}
    #: The attribute holding the trained network: None until ``build`` or ``fit`` makes it.
    NETWORK: ClassVar[str]

    def __init__(self) -> None:
        """Checks the parameters captured from the subclass's signature (``None``: the dataset's preset)."""
        super().__init__()
        given = {k: v for k, v in self.keyed_params().items() if v is not None}
        self.resolve("", {**self.PLACEHOLDERS, **given})
        self.config: Any = None  # the resolved configuration, known once the dataset is (``build``)
        self.fit_seconds: float | None = None
        self.fit_stats: dict[str, float] = {}

    @staticmethod
    def resolve(dataset: str, overrides: Mapping[str, Any]) -> Any:
        """The configuration: the preset of ``dataset`` with every non-None override applied."""
        raise NotImplementedError

    def identity(self) -> dict[str, Any]:
        """Every constructor parameter (None: the dataset preset) and a digest of the preset table."""
        return {**super().identity(), "presets": content_key(self.PRESETS)}

    def build(self, ctx: FitContext) -> None:
        """Resolve the configuration for ``ctx.dataset`` and build the untrained networks under ``ctx.seed``."""
        self.config = self.resolve(ctx.dataset, self.keyed_params())
        self._build_networks(ctx)

    def fit(self, ctx: FitContext) -> None:
        """``build``, then train; ``fit_seconds`` covers both, training attacks included (as in the AID paper's Table 2)."""
        if len(ctx.train) == 0:
            raise InvalidInputError(f"{self.NAME} needs a non-empty training split")
        begin = time.perf_counter()
        self.build(ctx)
        self.fit_stats = self._train(ctx)
        self.fit_seconds = time.perf_counter() - begin

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self._require_built()
        super().load_state_dict(state)

    def _build_networks(self, ctx: FitContext) -> None:
        """Build the untrained networks for ``ctx`` (``self.config`` is resolved)."""
        raise NotImplementedError

    def _train(self, ctx: FitContext) -> dict[str, float]:
        """Train the networks ``_build_networks`` made; returns statistics of the training."""
        raise NotImplementedError

    def _require_built(self) -> None:
        if self.config is None or getattr(self, self.NETWORK) is None:
            raise UserError(f"this {self.NAME} defense has no {self.NETWORK} yet; "
                            "call fit(ctx), or build(ctx) then load_state_dict(state)")


def merged_preset(name: str, presets: Mapping[str, Mapping[str, Any]], dataset: str, overrides: Mapping[str, Any],
                  required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The preset of ``dataset`` (the ``"*"`` entry for any other, where a table has one) with every non-None override.

    ``required`` names the parameters without a code default: a dataset without
    a preset must give them, and the error says which.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    merged = {**presets.get(dataset, presets.get("*", {})), **given}
    missing = [key for key in required if key not in merged]
    if missing:
        raise InvalidInputError(f"{name} has no preset for dataset {dataset!r} (presets: {', '.join(presets)}); "
                                f"give the defense parameters {', '.join(missing)}")
    return merged
