"""Why some networks keep their weights channels-last: each network's passes in both layouts, interleaved.

For each network purebench trains or attacks through on mnist5k, one copy in
torch's default layout (NCHW) and one moved with ``.to(memory_format=
torch.channels_last)`` run the same passes on the same inputs, alternating for
``--repeats`` rounds; the table gives each one's fastest round in process CPU
time (steady on a shared machine, and equal to the work done with one thread):

- ``smallcnn``: the attack pass (forward and input-backward at batch 1000) on
  the clean test images and on PGD's random start, and a training step
  (forward and weight-backward at batch 128);
- the DIR denoiser, NRP's purifier and critic, Defense-GAN's generator: a
  training step at their mnist5k sizes.

A network whose ratio is below 1 is faster channels-last; the code keeps the
layout where it is (``smallcnn``, DIR's denoiser, NRP's networks) and leaves
the others in NCHW.  The last column is the largest difference between the
two layouts' outputs, float rounding only.  ``--record`` writes the table,
the command and the machine into the "Channels-last" section of
benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from attacks.norms import Norm, random_start  # noqa: E402
from bench.data import load_dataset  # noqa: E402
from bench.models.small_cnn import SmallCNN  # noqa: E402
from defenses.defensegan.networks import Generator  # noqa: E402
from defenses.dir.denoiser import Denoiser  # noqa: E402
from defenses.nrp.critic import Critic  # noqa: E402
from defenses.nrp.network import PurifierNet  # noqa: E402
from recording import command_line, machine, record_section  # noqa: E402

HEADING = "## Channels-last"

Pass = Callable[[nn.Module], torch.Tensor]


def in_layout(module: nn.Module, memory_format: torch.memory_format) -> nn.Module:
    """A copy of ``module`` with its 4-d weights in ``memory_format`` (the values unchanged).

    The strides are set outright (``empty_like``): ``contiguous`` keeps a
    tensor whose ambiguous strides (a single input channel) already pass as
    the layout, and a convolution picks its layout from those strides.
    """
    twin = copy.deepcopy(module)
    for tensor in [*twin.parameters(), *twin.buffers()]:
        if tensor.ndim == 4:
            tensor.data = torch.empty_like(tensor.data, memory_format=memory_format).copy_(tensor.data)
    return twin


def attack_pass(x: torch.Tensor, y: torch.Tensor) -> Pass:
    def run(model: nn.Module) -> torch.Tensor:
        x_in = x.detach().requires_grad_(True)
        return torch.autograd.grad(F.cross_entropy(model(x_in), y, reduction="sum"), x_in)[0]
    return run


def training_step(inputs: Callable[[], tuple[torch.Tensor, ...]], labels: torch.Tensor | None = None) -> Pass:
    """Forward and weight-backward of a mean-square loss, or of cross-entropy against ``labels``."""
    def run(model: nn.Module) -> torch.Tensor:
        model.zero_grad(set_to_none=True)
        out = model(*inputs())
        (out.float().square().mean() if labels is None else F.cross_entropy(out, labels)).backward()
        return out.detach()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default: 5)")
    parser.add_argument("--passes", type=int, default=10, help="passes per network and layout in a round (default: 10)")
    parser.add_argument("--record", action="store_true", help="write the results into benchmarks/README.md")
    args = parser.parse_args()

    torch.manual_seed(0)
    data = load_dataset("mnist5k")
    shape = tuple(data.test.x.shape[1:])
    x, y = data.test.x[:1000], data.test.y[:1000]
    x_start = random_start(x, 0.3, Norm.LINF, torch.Generator().manual_seed(0))
    xb, yb = data.train.x[:128], data.train.y[:128]
    mask = (torch.rand(xb.shape) > 0.5).float()
    cnn = SmallCNN(data.num_classes, shape, [0.0], [1.0])
    cnn_eval = copy.deepcopy(cnn).eval().requires_grad_(False)
    cases: dict[str, tuple[nn.Module, Pass]] = {
        "smallcnn attack pass, clean batch of 1000": (cnn_eval, attack_pass(x, y)),
        "smallcnn attack pass, batch of 1000 at PGD's random start": (cnn_eval, attack_pass(x_start, y)),
        "smallcnn training step, batch 128": (cnn, training_step(lambda: (xb,), yb)),
        "DIR denoiser (width 16) training step, batch 128": (Denoiser(shape[0], 16), training_step(lambda: (xb * mask, mask))),
        "NRP purifier (32 channels, 4 blocks) training step, batch 128": (PurifierNet(shape[0], 32, 4), training_step(lambda: (xb,))),
        "NRP critic (width 32) training step, batch 128": (Critic(shape[0], 32), training_step(lambda: (xb,))),
        "Defense-GAN generator (latent 32, width 16) training step, batch 512":
            (Generator(32, 16, shape), training_step(lambda: (torch.randn(512, 32, generator=torch.Generator().manual_seed(0)),))),
    }
    layouts = {"NCHW": torch.contiguous_format, "channels-last": torch.channels_last}
    copies = {(name, layout): in_layout(module, fmt) for name, (module, _) in cases.items() for layout, fmt in layouts.items()}
    cpu: dict[tuple[str, str], list[float]] = {key: [] for key in copies}
    for key, model in copies.items():  # warm-up: allocator and kernels
        cases[key[0]][1](model)
    for round_ in range(args.repeats):
        order = list(copies) if round_ % 2 == 0 else list(reversed(copies))
        for key in order:
            start = time.process_time()
            for _ in range(args.passes):
                cases[key[0]][1](copies[key])
            cpu[key].append(time.process_time() - start)
    lines = ["| network and pass | NCHW CPU s | channels-last CPU s | channels-last / NCHW | largest output difference |",
             "|---|---|---|---|---|"]
    for name, (_, run) in cases.items():
        a, b = min(cpu[(name, "NCHW")]), min(cpu[(name, "channels-last")])
        difference = (run(copies[(name, "NCHW")]) - run(copies[(name, "channels-last")])).abs().max().item()
        lines.append(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.3f} | {difference:.1e} |")
    table = "\n".join(lines)
    summary = (f"Fastest of {args.repeats} interleaved rounds of {args.passes} passes each; untrained networks at their "
               "mnist5k sizes (a pass costs the same whatever the weights' values).")
    print(table)
    print(summary)
    if args.record:
        record_section(HEADING, f"`{command_line()}` ({datetime.date.today()}; {machine()}, "
                                f"{torch.get_num_threads()} torch thread(s))\n\n{table}\n\n{summary}")
        print("recorded in benchmarks/README.md")


if __name__ == "__main__":
    main()
