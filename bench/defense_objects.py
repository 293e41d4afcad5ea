"""New defense objects, and defense instances given from Python (not registered anywhere): checked and identified by content.

A defense is built from its registered name and parameters in one place,
``new_defense``: a fit changes the object, so spec validation builds one to
read identities and flags from (never fitted), and a run builds a fresh one
for each fit and each use.

Such an object is keyed by what determines its outputs: its ``identity()``
(type, ``VERSION``, constructor parameters), the bytes of its state before
fitting (its tensors and the tensors of its modules) and its plain attributes (numbers, strings, tensors,
and lists or dicts of them), so a subclass that keeps a setting in an
attribute rather than in ``params`` is still told apart.  Code is not hashed:
bump ``VERSION`` when a change of ``purify`` or ``fit`` changes results.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import torch

from bench.errors import InvalidInputError
from bench.hashing import content_key, state_digest
from defenses import DEFENSES, Defense

_SCALARS = (str, int, float, bool, type(None), torch.Tensor)


def new_defense(base: str, params: Mapping[str, Any], given: Defense | None = None) -> Defense:
    """A fresh, unfitted defense: the registered ``base`` built with ``params``, or a copy of the object ``given``."""
    if given is not None:
        return copy.deepcopy(given)
    return DEFENSES.create(base, **params)


def check_defense_object(obj: Any, where: str) -> None:
    """A Defense instance that implements ``purify``."""
    if not isinstance(obj, Defense):
        raise InvalidInputError(f"{where}: {type(obj).__name__} is not a Defense; subclass defenses.Defense and implement purify")
    if type(obj).purify is Defense.purify:
        raise InvalidInputError(f"{where}: {type(obj).__name__} does not implement purify(x)")


def defense_digest(defense: Any) -> str:
    """A digest of everything that determines the defense's fitted state and outputs."""
    attributes = {k: v for k, v in vars(defense).items() if k != "params" and _plain(v)}
    try:
        return content_key({"identity": defense.identity(), "state": state_digest(defense.state_dict()),
                            "attributes": attributes}, 64)
    except TypeError as exc:  # a parameter JSON cannot hold
        raise InvalidInputError(f"{type(defense).__name__}'s parameters must be numbers, strings, booleans, or lists and "
                                f"dicts of them, to be hashed into cache keys ({exc})") from None


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, _SCALARS)
