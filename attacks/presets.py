"""Per-dataset attack presets: eps, step size and steps of the iterative attacks.

The paper's (AID-Purifier, appendix A.4 and Table 11): SVHN eps 12/255 with
step 2/255; CIFAR-10, CIFAR-100 and TinyImageNet eps 8/255 with step 1/255;
PGD 40 steps; the same numbers bound C&W under L2.  Ours, not the paper's:
mnist5k follows the Madry MNIST protocol (L-inf eps 0.3, step 0.01, 40
steps) and, for L2 attacks, eps 2.0 with step 0.1; local sources
(``npz:``, ``imagefolder:``) and any other dataset get the CIFAR settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from attacks.norms import Norm
from bench.data.registry import parse_dataset_name


@dataclass(frozen=True)
class AttackPreset:
    eps: float
    step_size: float
    steps: int = 40


PAPER = {
    "svhn": AttackPreset(12 / 255, 2 / 255),
    "cifar10": AttackPreset(8 / 255, 1 / 255),
    "cifar100": AttackPreset(8 / 255, 1 / 255),
    "tinyimagenet": AttackPreset(8 / 255, 1 / 255),
}
MNIST5K = {Norm.LINF: AttackPreset(0.3, 0.01), Norm.L2: AttackPreset(2.0, 0.1)}
DEFAULT = PAPER["cifar10"]


def attack_preset(dataset: str, norm: Norm | str = Norm.LINF) -> dict[str, float | int]:
    """``{"eps", "step_size", "steps"}`` for attacks on ``dataset`` (a name as ``load_dataset`` takes it) under ``norm``."""
    source, _ = parse_dataset_name(dataset)
    norm = Norm.coerce(norm)
    preset = MNIST5K[norm] if source == "mnist5k" else PAPER.get(source, DEFAULT)
    return asdict(preset)
