"""The resolved configuration of one AID-Purifier: every knob of Algorithms 1 and 2 and the ablations.

Closed sets are ``Enum``s coerced at the boundary, so a typo fails when the
defense is built rather than after an hour of training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from bench.choice import Choice
from bench.errors import InvalidInputError
from defenses.parameter_checks import check_number



class Targets(Choice):
    """What the discriminator is trained to tell apart (appendix E.1, Table 14b)."""

    BCE = "bce"  # clean (t=0) vs adversarial (t=1) inputs: the paper's eq. 1
    CONTRASTIVE = "contrastive"  # matched tap pairs (t=0) vs taps of different examples (t=1)


class Augmentation(Choice):
    """How training inputs are made from x and its attack x_adv (appendix E.1, Table 14c)."""

    NONE = "none"  # x or x_adv, each with probability 1/2, hard targets
    AV = "av"  # x or the adversarial vertex x + gamma * delta, hard targets
    MIXUP = "mixup"  # u * x + (1 - u) * x_adv, soft target 1 - u
    AVMIXUP = "avmixup"  # u * x + (1 - u) * (x + gamma * delta), soft target 1 - u: Algorithm 1


class Surrogate(Choice):
    """How ``sign`` is differentiated in the unrolled purification (see ``defenses.aid.unrolled``)."""

    STE = "ste"
    TANH = "tanh"


class BoxGradient(Choice):
    """The derivative the unrolled purification gives the [0, 1] clip (see ``defenses.aid.unrolled``)."""

    EXACT = "exact"  # clamp's own: zero where a pixel is clipped
    STE = "ste"  # identity: the clip is applied but passes the gradient on


@dataclass(frozen=True)
class AIDConfig:
    """Everything that determines a fitted AID-Purifier and its purification."""

    taps: tuple[str, ...]
    train_eps: float
    train_step: float
    gamma: float
    eps: float
    step: float
    steps: int
    train_steps: int = 10
    width: int = 1024
    branch_depth: int = 2
    head_depth: int = 2
    targets: Targets = Targets.BCE
    augmentation: Augmentation = Augmentation.AVMIXUP
    train_attack: str = "pgd"
    train_attack_params: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 1
    batch_size: int = 128
    lr: float = 0.01
    weight_decay: float = 2e-4
    momentum: float = 0.9
    surrogate: Surrogate = Surrogate.STE
    temperature: float = 0.1
    box_gradient: BoxGradient = BoxGradient.STE

    def __post_init__(self) -> None:
        coerced = {"taps": parse_taps(self.taps), "targets": Targets.coerce(self.targets),
                   "augmentation": Augmentation.coerce(self.augmentation), "surrogate": Surrogate.coerce(self.surrogate),
                   "box_gradient": BoxGradient.coerce(self.box_gradient),
                   "train_attack_params": dict(self.train_attack_params)}
        for name, value in coerced.items():
            object.__setattr__(self, name, value)  # a frozen dataclass normalising its own fields
        if self.targets is Targets.CONTRASTIVE and len(self.taps) < 2:
            raise InvalidInputError("targets='contrastive' pairs a low tap with a high tap; give two taps, e.g. taps='layer1,layer3'")
        for name in ("train_eps", "eps", "weight_decay", "momentum"):
            check_number("aid", name, getattr(self, name), minimum=0.0)
        for name in ("train_step", "step", "gamma", "lr", "temperature"):
            check_number("aid", name, getattr(self, name), minimum=0.0, strict=True)
        for name in ("train_steps", "width", "epochs", "batch_size"):
            check_number("aid", name, getattr(self, name), minimum=1, integer=True)
        for name in ("steps", "branch_depth", "head_depth"):
            check_number("aid", name, getattr(self, name), minimum=0, integer=True)


def parse_taps(taps: Any) -> tuple[str, ...]:
    """``"layer1,layer3"`` or a sequence of names -> a tuple of distinct names."""
    names = tuple(t.strip() for t in (taps.split(",") if isinstance(taps, str) else taps))
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise InvalidInputError(f"taps must be one or more distinct tap names, e.g. 'layer1,layer3'; got {taps!r}")
    return names
