"""The latent search of Defense-GAN: z* = argmin ||G(z) - x||^2 over L restarts of R Adam steps.

One implementation serves both uses.  ``purify`` runs it without a graph
between steps; ``unrolled_purify`` keeps every step's graph
(``create_graph=True``), so the gradient of G(z*) reaches x through all R
updates of z (through each step's gradient, Adam's moments included).  Adam
is written out rather than taken from ``torch.optim`` for that reason; it is
the optimiser of the Defense-GAN reference code.  The restart that ends with
the lowest error is kept; that choice itself carries no gradient.

The L starting points are drawn once from N(0, I) by a generator seeded with
``restart_seed`` and shared by every image, so the search is a fixed
function of each image alone: deterministic, independent of the batch it
comes in, and the same on every device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from defenses.defensegan.networks import Generator

BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class Reconstruction:
    images: torch.Tensor  # G(z*) per image
    latents: torch.Tensor  # z* per image
    errors: torch.Tensor  # ||G(z*) - x||^2 per image


def starting_points(restarts: int, latent: int, seed: int) -> torch.Tensor:
    """(L, latent) draws from N(0, I), the same for every image and device."""
    return torch.randn(restarts, latent, generator=torch.Generator().manual_seed(seed))


def squared_errors(images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||images - target||^2 per image."""
    return (images - target).pow(2).flatten(1).sum(1)


def search(generator: Generator, x: torch.Tensor, starts: torch.Tensor, *, steps: int, lr: float,
           create_graph: bool = False) -> Reconstruction:
    """Reconstruct each image of ``x`` from every starting point and keep the best (G in eval mode)."""
    restarts, n = len(starts), len(x)
    with torch.inference_mode(False), torch.enable_grad():
        target = x.repeat(restarts, *([1] * (x.ndim - 1)))  # row l * n + k: image k, restart l
        z = starts.to(device=x.device, dtype=x.dtype).repeat_interleave(n, dim=0).requires_grad_(True)
        m, v = torch.zeros_like(z), torch.zeros_like(z)
        for t in range(1, steps + 1):
            (grad,) = torch.autograd.grad(squared_errors(generator(z), target).sum(), z, create_graph=create_graph)
            m = BETA1 * m + (1 - BETA1) * grad
            v = BETA2 * v + (1 - BETA2) * grad * grad
            z = z - lr * (m / (1 - BETA1**t)) / ((v / (1 - BETA2**t)).sqrt() + ADAM_EPS)
            if not create_graph:
                z, m, v = z.detach().requires_grad_(True), m.detach(), v.detach()
        if not create_graph:
            z = z.detach()
        images = generator(z)
        errors = squared_errors(images, target).view(restarts, n)
        best = errors.detach().argmin(dim=0) * n + torch.arange(n, device=x.device)
        return Reconstruction(images[best], z[best], errors.flatten()[best])
