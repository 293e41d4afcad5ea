"""The defense base type: an input purifier attached to a frozen classifier, and its life cycle.

A defense maps images in [0, 1] to images in [0, 1] of the same shape.  The
harness drives every defense, built-in or plugin, through one life cycle:

1. ``Defense(**params)``: the parameters are captured from the constructor's
   signature, defaults included, into ``self.params`` before ``__init__``
   runs.  ``Defense.__init__`` ignores whatever it is given: a subclass need
   not call it, and what it passes there is neither stored nor checked.  A
   subclass without an ``__init__`` of its own takes any keywords, all in
   ``self.params``, where its methods read them.  The parameters enter
   ``identity()``, hence every cache key: ``Blur(k=3)`` and ``Blur(k=5)``
   never share a result.
2. ``fit(ctx)`` on a fresh object: learn whatever the defense learns (the
   classifier stays frozen).  Its state is then ``state_dict()``: every
   tensor attribute and the tensors of every ``nn.Module`` attribute, made in
   ``__init__`` or in ``fit``.  The frozen classifier is not state, under
   whatever attribute the defense keeps it, inside a module of its own too:
   ``FitContext`` marks the module it gives (a copy the defense makes, to
   fine-tune, is state again).  The harness caches the state.
3. On every later use, a fresh object again: ``build(ctx)``, then
   ``load_state_dict(state)``.  ``build`` is the one hook that recreates
   structure a state loads into: the modules a defense makes from the
   classifier or the data (a network sized for the images).  Tensor
   attributes need no hook: they are set from the state by name, and a class
   annotation (``mean: torch.Tensor``) declares one made in ``fit``.  Loading
   is strict: a missing or unexpected key is a ``UserError`` naming it.
4. ``purify(x)``: called by evaluation under ``torch.no_grad`` (and with
   gradients by adaptive attacks).

``defenses.testing.check_defense`` runs this cycle on a tiny split and checks
each declaration against measured behaviour (``defenses.probes``).
"""

from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator

import torch
from torch import nn

from bench.data.splits import Split
from bench.errors import UserError
from bench.job_progress import JobProgress

#: The attribute holding the frozen classifier: used by a defense, never part of its state.
CLASSIFIER_ATTR = "classifier"
#: Set on the module a ``FitContext`` gives, to that module's own ``id``: a copy of it is not marked.
_FROZEN_MARK = "_purebench_frozen_id"


def mark_frozen(module: nn.Module) -> None:
    """Mark ``module`` as the frozen classifier, which no defense's state holds."""
    setattr(module, _FROZEN_MARK, id(module))


def is_frozen(module: nn.Module) -> bool:
    """Whether ``module`` is itself a classifier marked by ``mark_frozen`` (not a copy of one)."""
    return getattr(module, _FROZEN_MARK, None) == id(module)


@dataclass
class FitContext:
    """What fitting a defense may use: the frozen classifier, the training split, where and how."""

    classifier: nn.Module
    train: Split
    dataset: str
    device: torch.device
    seed: int = 0
    progress: bool = True
    report: JobProgress = field(default_factory=JobProgress)  # the job's progress line: epochs and batches of the fit

    def __post_init__(self) -> None:
        if isinstance(self.classifier, nn.Module):
            mark_frozen(self.classifier)


class Defense:
    """Base type for defenses; subclasses implement ``purify`` and, if trained, ``fit`` (and ``build``, see above)."""

    #: True when ``purify`` draws random numbers on each call: adaptive attacks then average gradients (EOT).
    randomized: ClassVar[bool] = False
    #: False when autograd through ``purify`` gives no useful gradient: adaptive attacks then use BPDA or unrolling.
    differentiable: ClassVar[bool] = True
    #: True when ``purify(x)[i]`` reads the rest of its batch (batch statistics): results then depend on the batch size.
    batch_dependent: ClassVar[bool] = False
    #: True when ``unrolled_purify`` offers a differentiable surrogate of a non-differentiable ``purify``.
    unrollable: ClassVar[bool] = False
    #: True when the exact gradient (autograd, or ``unrolled_purify``) costs too much to take at every attack step
    #: (a long inner optimisation): adaptive attacks then use BPDA through the stage, and their labels say so.
    gradient_impractical: ClassVar[bool] = False
    #: Bump when the code changes what ``fit`` or ``purify`` produce, so cached states and results are not reused.
    VERSION: ClassVar[str] = "1"
    #: Constructor parameters that only ``purify`` reads: variants differing in them share one fitted state.
    INFERENCE_PARAMS: ClassVar[frozenset[str]] = frozenset()
    #: Constructor parameters that choose how, not what (a faster algorithm, same output): left out of ``identity``.
    IMPLEMENTATION_PARAMS: ClassVar[frozenset[str]] = frozenset()

    params: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> "Defense":
        obj = super().__new__(cls)
        obj.params = _constructor_params(cls, args, kwargs)
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Ignores its arguments: ``__new__`` has already captured them, by the subclass's signature, into ``params``."""

    @property
    def needs_fit(self) -> bool:
        """True when ``fit`` trains state that should be cached (the default for a defense with state)."""
        return bool(self.state_dict()) or type(self).fit is not Defense.fit

    def build(self, ctx: FitContext) -> None:
        """Create, untrained, the modules a fitted state loads into that depend on ``ctx``.  Default: nothing.

        Called on a fresh object before ``load_state_dict``; a ``fit`` that
        needs the same modules calls it first.
        """

    def fit(self, ctx: FitContext) -> None:
        """Learn whatever the defense learns, on a fresh object; the classifier stays frozen.  Default: nothing."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement purify(x)")

    def unrolled_purify(self, x: torch.Tensor) -> torch.Tensor:
        """A differentiable surrogate of ``purify`` for adaptive attacks (only when ``unrollable``)."""
        raise NotImplementedError(f"{type(self).__name__} offers no unrolled purification")

    @property
    def unrolled_exact(self) -> bool:
        """True when ``unrolled_purify`` returns ``purify``'s values bit for bit, only its derivative being a surrogate.

        Adaptive attacks then take the forward value from the unrolling
        instead of purifying every iterate a second time.
        """
        return False

    def aux_loss(self, x: torch.Tensor) -> torch.Tensor | None:
        """Per-example auxiliary loss for the auxiliary-aware attack (None: the defense has none)."""
        return None

    def to(self, device: torch.device) -> "Defense":
        """Moves every module (the classifier included) and tensor attribute to ``device``."""
        for attr, value in list(vars(self).items()):
            if isinstance(value, nn.Module):
                value.to(device)
            elif isinstance(value, torch.Tensor):
                setattr(self, attr, _like(value, value.to(device)))
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every tensor attribute under its name, and every module's tensors under ``attr.key``."""
        state: dict[str, torch.Tensor] = {}
        for attr, value in self._state_attributes():
            if isinstance(value, nn.Module):
                state.update({f"{attr}.{k}": v for k, v in _module_state(value).items()})
            else:
                state[attr] = value.detach()
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load ``state`` strictly: into the modules this object holds (after ``build``), tensors set by name."""
        modules = {attr: value for attr, value in self._state_attributes() if isinstance(value, nn.Module)}
        new_tensors = {key for key in state if "." not in key and self._may_hold_tensor(key)}
        expected = set(self.state_dict()) | declared_tensors(type(self))
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected - new_tensors)
        if missing or unexpected:
            raise UserError(f"{type(self).__name__}: the saved state does not fit this object "
                            f"(missing keys: {', '.join(missing) or 'none'}; unexpected keys: {', '.join(unexpected) or 'none'}); "
                            "create every module the state holds in __init__ or in build(ctx), which runs before a "
                            "saved state loads, and bump VERSION when the state's layout changes")
        for attr, module in modules.items():
            prefix = f"{attr}."
            try:  # the keys are checked above; a module holding the frozen classifier loads all but its tensors
                module.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)},
                                       strict=not _frozen_prefixes(module))
            except RuntimeError as exc:  # shapes that differ: the module was built for other data or parameters
                raise UserError(f"{type(self).__name__}: the saved state of {attr!r} does not fit the module build(ctx) "
                                f"made ({exc}); bump VERSION when the state's layout changes") from None
        for key in state:
            if "." not in key:
                old = vars(self).get(key)
                setattr(self, key, _like(old, state[key]) if isinstance(old, torch.Tensor) else state[key])

    def identity(self) -> dict[str, Any]:
        """Everything that determines this defense's fitted state and outputs (enters cache keys)."""
        return {"type": f"{type(self).__module__}.{type(self).__qualname__}", "version": self.VERSION,
                "params": self.keyed_params()}

    def keyed_params(self) -> dict[str, Any]:
        """The parameters that determine outputs: ``params`` without the ``IMPLEMENTATION_PARAMS``."""
        return {k: v for k, v in self.params.items() if k not in self.IMPLEMENTATION_PARAMS}

    def fit_identity(self) -> dict[str, Any]:
        """What determines the fitted state: ``identity`` without the ``INFERENCE_PARAMS`` (keys the fit cache)."""
        identity = self.identity()
        params = {k: v for k, v in identity.get("params", {}).items() if k not in self.INFERENCE_PARAMS}
        return {**identity, "params": params}

    def _state_attributes(self) -> Iterator[tuple[str, nn.Module | torch.Tensor]]:
        for attr, value in vars(self).items():
            if attr == CLASSIFIER_ATTR or isinstance(value, nn.Module) and is_frozen(value):
                continue
            if isinstance(value, (nn.Module, torch.Tensor)):
                yield attr, value

    def _may_hold_tensor(self, attr: str) -> bool:
        """A tensor attribute ``attr`` may be set from a state: absent, ``None`` or a tensor now, and not reserved."""
        if attr == CLASSIFIER_ATTR or attr == "params" or isinstance(getattr(type(self), attr, None), property):
            return False
        value = vars(self).get(attr)
        return value is None or isinstance(value, torch.Tensor)


def _frozen_prefixes(module: nn.Module) -> list[str]:
    """The state-key prefixes (``"1."``) of the frozen classifiers inside ``module``."""
    return [f"{name}." for name, sub in module.named_modules() if name and is_frozen(sub)]


def _module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` without the tensors of a frozen classifier it holds."""
    prefixes = tuple(_frozen_prefixes(module))
    return {k: v for k, v in module.state_dict().items() if not prefixes or not k.startswith(prefixes)}


def declared_tensors(cls: type) -> set[str]:
    """The attributes ``cls`` annotates as tensors (``mean: torch.Tensor``): every state of it must hold them.

    A tensor made in ``fit`` is absent from a fresh object, so only its
    declaration tells a load that a state lacks it.  When the annotations
    cannot be resolved (a name imported for type checkers only), only those
    that are not strings count.
    """
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):
        hints = {name: hint for klass in cls.__mro__ for name, hint in inspect.get_annotations(klass).items()}
    return {name for name, hint in hints.items() if _is_tensor_type(hint)}


def _is_tensor_type(hint: Any) -> bool:
    if isinstance(hint, type):
        return issubclass(hint, torch.Tensor)
    return any(_is_tensor_type(arg) for arg in typing.get_args(hint)) if isinstance(hint, types.UnionType) or \
        typing.get_origin(hint) is typing.Union else False


def _constructor_params(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``cls(*args, **kwargs)`` by name, defaults applied, ``**kwargs`` flattened.

    Arguments the signature refuses give ``{}``: ``__init__`` then raises the
    usual ``TypeError``.  ``copy``/``pickle`` call ``__new__`` without
    arguments and restore the attributes, ``params`` included, afterwards.
    """
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return {}
    bound.apply_defaults()
    params: dict[str, Any] = {}
    for name, value in list(bound.arguments.items())[1:]:  # the first is self
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            params.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL or value:
            params[name] = list(value) if kind is inspect.Parameter.VAR_POSITIONAL else value
    return params


def _like(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """``new`` as a parameter when ``old`` was one, so moving or loading keeps an attribute's kind."""
    return nn.Parameter(new, requires_grad=old.requires_grad) if isinstance(old, nn.Parameter) else new
