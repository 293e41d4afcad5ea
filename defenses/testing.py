"""The defense contract, checked: for a plugin author's own pytest suite (and purebench's, over every registered defense).

``check_defense(MyDefense, variant={"k": 5})`` runs the life cycle of
``defenses.base`` the way the harness does, on a tiny split: fit a fresh
object, save its state through the artifact cache (safetensors), load it into
another fresh object after ``build(ctx)``, and checks

- the reloaded object purifies exactly as the fitted one did, and the tensors
  ``fit`` makes are declared as class annotations;
- ``purify`` keeps shape and dtype, and returns finite pixels in [0, 1];
- the same arguments give the same ``identity()``, ``variant``'s a different one;
- the declared flags agree with what ``defenses.probes`` measures:
  ``randomized`` with two identical calls, ``differentiable`` with the
  input gradients through ``purify`` (``unrolled_purify`` for an
<<<<<<< HEAD
  ``unrollable`` defense), and ``batch_dependent`` with whether an output
  moves when the rest of its batch is replaced;
=======
  ``unrollable`` defense), ``unrolled_exact`` with ``purify``'s and
  ``unrolled_purify``'s values, and no output depends on the rest of its batch;
>>>>>>> main
- fitting and purifying leave the frozen classifier's weights unchanged.

Every broken promise is listed in one ``DefenseContractError``; a defense that
keeps them all gets back the ``ContractReport`` of what was measured.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from bench.cache import ArtifactCache
from bench.data import Split, load_dataset
from bench.errors import UserError
from bench.hashing import content_key, state_digest
from bench.models import ARCHS
from defenses.base import Defense, FitContext, declared_tensors
from defenses.probes import (BatchDependenceProbe, GradientProbe, RandomnessProbe, probe_batch_dependence,
                             probe_gradients, probe_randomness)
from defenses.seeding import build_seeded

#: The embedded default dataset: a tiny split of it is what the check fits on unless given another.
DATASET = "mnist5k"


class DefenseContractError(UserError, AssertionError):
    """A defense breaks its contract; the message lists every broken promise and how to keep it."""


@dataclass(frozen=True)
class ContractReport:
    """What ``check_defense`` measured on a defense that keeps its contract."""

    name: str
    state_keys: tuple[str, ...]
    randomness: RandomnessProbe
    gradients: GradientProbe
    batch: BatchDependenceProbe


def check_defense(defense: type[Defense] | Defense, *, params: Mapping[str, Any] | None = None,
                  variant: Mapping[str, Any] | None = None, classifier: nn.Module | None = None,
                  train: Split | None = None, x: torch.Tensor | None = None, dataset: str = DATASET,
                  n_train: int = 64, n_test: int = 8, seed: int = 0) -> ContractReport:
    """Check ``defense`` (a class, built with ``params``, or an unfitted instance) against the contract.

    ``variant``: constructor arguments that must change the identity (merged
    over ``params``; None skips that check).  ``classifier``, ``train`` and
    ``x`` (test images) default to an untrained smallcnn and the first
    ``n_train`` / ``n_test`` images of ``dataset``'s splits.
    """
    make = _maker(defense, params or {})
    name = type(make()).__name__
    if train is None or x is None:
        splits = load_dataset(dataset)
        train = train if train is not None else splits.train.head(n_train)
        x = x if x is not None else splits.test.head(n_test).x
    classifier = classifier if classifier is not None else _untrained_classifier(train, seed)
    ctx = FitContext(classifier=classifier, train=train, dataset=dataset, device=torch.device("cpu"), seed=seed,
                     progress=False)
    problems: list[str] = []
    before = state_digest(classifier.state_dict())

    fitted = make()
    fitted.fit(ctx)
    state = _saved_and_reloaded(fitted.state_dict())
    reloaded = make()
    reloaded.build(ctx)
    undeclared = sorted(k for k in state if "." not in k and k not in reloaded.state_dict()
                        and k not in declared_tensors(type(fitted)))
    if undeclared:
        problems.append(f"fit makes tensors the class does not declare ({', '.join(undeclared)}); annotate them on the "
                        f"class ({undeclared[0]}: torch.Tensor) so a load can tell when a saved state lacks one")
    try:
        reloaded.load_state_dict(state)
    except UserError as exc:
        problems.append(f"a fresh object cannot load the fitted state: {exc}")
        reloaded = None

    out = _seeded_call(fitted.purify, x, seed)
    if reloaded is not None and not torch.equal(_seeded_call(reloaded.purify, x, seed), out):
        problems.append("the reloaded object purifies differently from the fitted one: keep everything purify reads "
                        "in tensors, modules or constructor parameters (plain attributes set in fit are not saved)")
    problems += _identity_problems(make, defense, params or {}, variant)
    malformed = _output_problems(out, x)
    if malformed:  # the probes below assume images of the input's shape
        _raise(name, problems + malformed)

    generator = torch.Generator().manual_seed(seed)
    labels = _other_labels(classifier, x)
    randomness = probe_randomness(fitted.purify, x, generator=generator)
    gradients = probe_gradients(fitted.purify, classifier, x, labels, generator=generator)
    batch = probe_batch_dependence(fitted.purify, x, generator=generator)
    problems += _flag_problems(fitted, randomness, gradients, batch)
    if fitted.unrollable:
        unrolled = probe_gradients(fitted.unrolled_purify, classifier, x, labels, generator=generator)
        if unrolled.unavailable > 0:
            problems.append(f"unrollable = True, but unrolled_purify gives a zero, NaN or infinite gradient for "
                            f"{unrolled.unavailable:.0%} of the examples; fix unrolled_purify or declare unrollable = False")
        if fitted.unrolled_exact:
            problems += _exactness_problems(fitted, x, out, seed)
    if state_digest(classifier.state_dict()) != before:
        problems.append("fit or purify changed the frozen classifier's weights; train copies, never ctx.classifier")
    if problems:
        _raise(name, problems)
    return ContractReport(name, tuple(sorted(state)), randomness, gradients, batch)


def _exactness_problems(fitted: Defense, x: torch.Tensor, purified: torch.Tensor, seed: int) -> list[str]:
    """``unrolled_exact`` promises ``purify``'s values: adaptive attacks then skip ``purify`` and use the unrolling's."""
    with torch.enable_grad():
        unrolled = _seeded_call(fitted.unrolled_purify, x.clone().requires_grad_(True), seed).detach()
    if unrolled.shape == purified.shape and torch.equal(unrolled, purified):
        return []
    differ = (unrolled != purified).flatten(1).any(1).float().mean() if unrolled.shape == purified.shape else 1.0
    return [f"unrolled_exact = True, but unrolled_purify's values differ from purify's for {differ:.0%} of the examples; "
            "return purify's values from unrolled_purify (the surrogate only in the backward pass) or leave unrolled_exact False"]


def _raise(name: str, problems: list[str]) -> None:
    raise DefenseContractError(f"{name} breaks the defense contract:\n- " + "\n- ".join(problems))


def _maker(defense: type[Defense] | Defense, params: Mapping[str, Any]):
    """Fresh objects: the class built with ``params``, or copies of the unfitted instance (as the harness makes them)."""
    if isinstance(defense, Defense):
        if params:
            raise UserError("check_defense: give params with a class, not with an instance (its parameters are set)")
        return lambda: copy.deepcopy(defense)
    if not (isinstance(defense, type) and issubclass(defense, Defense)):
        raise UserError(f"check_defense takes a Defense subclass or instance, not {type(defense).__name__}")
    return lambda: defense(**params)


def _untrained_classifier(train: Split, seed: int) -> nn.Module:
    channels = train.x.shape[1]
    model = build_seeded(lambda: ARCHS.create("smallcnn", num_classes=int(train.y.max()) + 1,
                                              image_shape=tuple(train.x.shape[1:]), mean=[0.5] * channels,
                                              std=[0.25] * channels), seed)
    return model.eval().requires_grad_(False)


def _saved_and_reloaded(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` after a round trip through the artifact cache, as the harness stores it."""
    with tempfile.TemporaryDirectory(prefix="check-defense-") as root:
        cache = ArtifactCache(root)
        cache.save("defenses", "state", state, {})
        return cache.load("defenses", "state").tensors  # just written and verified: never None


def _seeded_call(purify, x: torch.Tensor, seed: int) -> torch.Tensor:
    """``purify(x)`` as evaluation calls it (no autograd), from a fixed random state."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        return purify(x)


def _output_problems(out: Any, x: torch.Tensor) -> list[str]:
    if not isinstance(out, torch.Tensor):
        return [f"purify returned {type(out).__name__}, not a tensor"]
    problems = []
    if out.shape != x.shape:
        problems.append(f"purify changed the shape {tuple(x.shape)} to {tuple(out.shape)}")
    if out.dtype != x.dtype:
        problems.append(f"purify changed the dtype {x.dtype} to {out.dtype}")
    if not torch.isfinite(out).all():
        problems.append("purify returned NaN or infinite pixels")
    elif out.numel() and (out.min() < 0 or out.max() > 1):
        problems.append(f"purify left [0, 1] (range {float(out.min()):.3g} to {float(out.max()):.3g}); clamp its output")
    return problems


def _identity_problems(make, defense: type[Defense] | Defense, params: Mapping[str, Any],
                       variant: Mapping[str, Any] | None) -> list[str]:
    problems = []
    try:
        same = content_key(make().identity()) == content_key(make().identity())
    except TypeError as exc:
        return [f"identity() cannot be hashed into cache keys ({exc}); keep constructor parameters to numbers, "
                "strings, booleans, and lists and dicts of them"]
    if not same:
        problems.append("two objects built with the same arguments have different identities")
    if variant is not None:
        cls = defense if isinstance(defense, type) else type(defense)
        base = params if isinstance(defense, type) else defense.params
        if content_key(cls(**{**base, **variant}).identity()) == content_key(make().identity()):
            problems.append(f"constructor arguments {dict(variant)} do not change identity(): the cache would mix "
                            "the two variants' results")
    return problems


def _flag_problems(defense: Defense, randomness: RandomnessProbe, gradients: GradientProbe,
                   batch: BatchDependenceProbe) -> list[str]:
    problems = []
    if randomness.randomized and not defense.randomized:
        problems.append(f"two identical purify calls differ (by {randomness.max_abs_difference:.3g}), but randomized "
                        "is False; declare randomized = True so adaptive attacks use EOT")
    if defense.randomized and not randomness.randomized:
        problems.append("randomized is True, but two identical purify calls gave the same output; declare randomized = False")
    if defense.differentiable and gradients.unavailable > 0:
        problems.append(f"differentiable is True, but the input gradient through purify is zero, NaN or infinite for "
                        f"{gradients.unavailable:.0%} of the examples; declare differentiable = False so adaptive "
                        "attacks use BPDA (or unrolled_purify)")
    if not defense.differentiable and gradients.unavailable == 0:
        problems.append("differentiable is False, but plain autograd through purify gives usable gradients for every "
                        "example; declare differentiable = True so adaptive attacks use them")
    if batch.batch_dependent and not defense.batch_dependent:
        problems.append(f"purify(x)[i] changes (by {batch.max_abs_difference:.3g}) with the other examples of the "
                        "batch, so results would depend on the batch size; purify each example on its own, or declare "
                        "batch_dependent = True if the batch statistics are meant")
    if defense.batch_dependent and not batch.batch_dependent:
        problems.append("batch_dependent is True, but purify(x)[i] stayed the same when the rest of its batch was "
                        "replaced; declare batch_dependent = False")
    return problems


def _other_labels(classifier: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A class other than the predicted one: its CE loss never saturates to an exactly zero gradient."""
    with torch.no_grad():
        logits = classifier(x)
    return (logits.argmax(1) + 1) % logits.shape[1]
