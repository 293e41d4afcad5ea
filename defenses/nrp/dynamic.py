"""NRP's dynamic inference: perturb the incoming image with random noise before purifying it.

The README says only "random noise"; here it is Gaussian noise, projected
onto an L-inf ball around the input (so the noise is bounded like the
perturbations the purifier was trained on) and clipped to [0, 1].  The noise comes
from torch's global generator, so an evaluation that seeds it draws the same
noise every run, while an attacker sees fresh noise on every call (EOT).
"""

from __future__ import annotations

import torch

from attacks.norms import Norm, project


def add_noise(x: torch.Tensor, std: float, eps: float) -> torch.Tensor:
    noisy = x + std * torch.randn(x.shape, device=x.device, dtype=x.dtype)
    return project(noisy, x, eps, Norm.LINF)
