"""Algorithm 2: N signed-gradient steps that lower p_adv, kept in the eps-ball of the input and in [0, 1].

``score`` maps a batch to D's logits; sign(grad p_adv) equals sign(grad logit)
because the sigmoid is strictly increasing, and the logit's gradient does not
underflow to zero when D is saturated.  Examples are independent (the
classifier runs in eval mode), so one backward pass of the summed logits gives
every example's gradient.  Gradients are switched on inside, so callers may
hold ``torch.no_grad`` or ``torch.inference_mode``.
"""

from __future__ import annotations

from typing import Callable

import torch

from attacks.norms import Norm, project

Score = Callable[[torch.Tensor], torch.Tensor]


def purify(score: Score, x: torch.Tensor, *, eps: float, step: float, steps: int) -> torch.Tensor:
    """x_pur of Algorithm 2 (no graph to ``x``)."""
    with torch.inference_mode(False), torch.enable_grad():
        x = x.detach().clone()
        x_pur = x
        for _ in range(steps):
            x_pur = x_pur.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(score(x_pur).sum(), x_pur)
            x_pur = project(x_pur.detach() - step * grad.sign(), x, eps, Norm.LINF)
    return x_pur.detach()
