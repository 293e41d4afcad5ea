"""The fast decoder: every layer evaluated once per position from cached activations.

Fast PixelCNN generation (Ramachandran et al., 2017) applied to greedy
decoding.  Position (i, j) of every layer depends only on earlier positions
of the layer below (the causal masks), and those never change once computed,
because decoding only ever rewrites sub-pixels at or after the current one.
So the decoder keeps, for each masked k x k convolution, its input on a
zero-padded canvas, and at each position evaluates each layer there alone:
the k x k convolutions as one matrix product with the (k // 2 + 1) x k causal
rows of their neighbourhood, the 1x1 layers as matrix products of one vector
per image.  A whole image costs C forward passes in total instead of
H * W * C.  Canvases are laid out (row, column, image, channel), so a
neighbourhood is k // 2 + 1 contiguous blocks of memory for the whole batch.

Exactness.  The sums are the same as the full network's, in another order, so
the logits agree only to rounding (about 1e-15 in float64 on these networks;
the tests measure it).  A choice whose best candidate leads the next by more
than ``TIE_MARGIN`` cannot be changed by that rounding; for a closer call the
decoder runs the full network on the current images, exactly as the naive
decoder does at that step, and takes its choice.  The output is therefore the
naive decoder's, given that both run in float64 on the same batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from defenses.pixeldefend.choice import best_in_window
from defenses.pixeldefend.config import LEVELS
from defenses.pixeldefend.levels import window
from defenses.pixeldefend.masks import MaskedConv2d
from defenses.pixeldefend.network import PixelCNN

#: Logit gaps at or below this are settled by a full forward pass (float64 rounding is ~1e-15).
TIE_MARGIN = 1e-8


class CausalConv:
    """A masked k x k convolution evaluated at one position from its zero-padded (row, column, image, channel) canvas."""

    def __init__(self, conv: MaskedConv2d) -> None:
        self.reach = conv.kernel_size[0] // 2
        rows = conv.masked_weight[:, :, : self.reach + 1, :]  # rows below the centre are masked out
        self.weight = rows.permute(0, 2, 3, 1).reshape(rows.shape[0], -1)  # (out, row * column * channel)
        self.bias = conv.bias

    def canvas(self, batch: int, channels: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        r = self.reach
        return like.new_zeros(height + r, width + 2 * r, batch, channels)

    def cell(self, canvas: torch.Tensor, i: int, j: int) -> torch.Tensor:
        """The (image, channel) slot of position (i, j), a view to write into."""
        return canvas[i + self.reach, j + self.reach]

    def at(self, canvas: torch.Tensor, i: int, j: int) -> torch.Tensor:
        r = self.reach
        patch = canvas[i : i + r + 1, j : j + 2 * r + 1].permute(2, 0, 1, 3).reshape(canvas.shape[2], -1)
        return F.linear(patch, self.weight, self.bias)


def pointwise(conv: MaskedConv2d) -> tuple[torch.Tensor, torch.Tensor]:
    """A masked 1x1 convolution as the (weight, bias) of a linear map."""
    return conv.masked_weight[:, :, 0, 0], conv.bias


class IncrementalPixelCNN:
    """``net`` evaluated position by position on one batch of images being decoded."""

    def __init__(self, net: PixelCNN, levels: torch.Tensor) -> None:
        batch, colours, height, width = levels.shape
        weight = net.first.weight
        #: level -> network input, by the network's own formula, so both decoders see identical inputs
        self.inputs = net.normalise(torch.arange(LEVELS, device=weight.device), weight.dtype)
        self.first = CausalConv(net.first)
        self.image = self.first.canvas(batch, colours, height, width, weight)
        r = self.first.reach
        self.image[r:, r : r + width] = self.inputs[levels].permute(2, 3, 0, 1)
        self.blocks = [(CausalConv(b.conv), pointwise(b.mix)) for b in net.blocks]
        self.block_inputs = [conv.canvas(batch, net.first.out_channels, height, width, weight) for conv, _ in self.blocks]
        self.head = pointwise(net.head)
        out_weight, out_bias = pointwise(net.out)
        self.out = [(out_weight[c * LEVELS : (c + 1) * LEVELS], out_bias[c * LEVELS : (c + 1) * LEVELS]) for c in range(colours)]

    def logits(self, i: int, j: int, channel: int) -> torch.Tensor:
        """(B, 256) logits of sub-pixel (i, j, channel), valid once every earlier sub-pixel is final."""
        h = self.first.at(self.image, i, j)
        for (conv, mix), canvas in zip(self.blocks, self.block_inputs):
            torch.clamp(h, min=0, out=conv.cell(canvas, i, j))  # relu(h), the block convolution's input
            h = h + F.linear(F.relu(conv.at(canvas, i, j)), *mix)
        return F.linear(F.relu(F.linear(F.relu(h), *self.head)), *self.out[channel])

    def set_level(self, i: int, j: int, channel: int, level: torch.Tensor) -> None:
        self.first.cell(self.image, i, j)[:, channel] = self.inputs[level]


def row_windows(low: torch.Tensor, high: torch.Tensor, i: int) -> torch.Tensor:
    """(C, W, B, 256) True outside each sub-pixel's window of row ``i``."""
    candidates = torch.arange(LEVELS, device=low.device)
    lo, hi = low[:, :, i].permute(1, 2, 0)[..., None], high[:, :, i].permute(1, 2, 0)[..., None]
    return ((candidates < lo) | (candidates > hi)).contiguous()


@torch.no_grad()
def decode_fast(net: PixelCNN, levels: torch.Tensor, eps_levels: int) -> torch.Tensor:
    """The same decoding as ``decode_naive`` (same arguments, same output), about H * W times less work."""
    low, high = window(levels, eps_levels)
    current = levels.clone()
    state = IncrementalPixelCNN(net, levels)
    _, colours, height, width = levels.shape
    for i in range(height):
        outside = row_windows(low, high, i)
        for j in range(width):
            for c in range(colours):
                top = state.logits(i, j, c).masked_fill_(outside[c, j], float("-inf")).topk(2, dim=1)
                level = top.indices[:, 0]  # the unique best when the margin is positive
                close = top.values[:, 0] - top.values[:, 1] <= TIE_MARGIN
                if close.any():
                    exact, _ = best_in_window(net(current)[:, c, :, i, j], low[:, c, i, j], high[:, c, i, j])
                    level = torch.where(close, exact, level)
                current[:, c, i, j] = level
                state.set_level(i, j, c, level)
    return current
