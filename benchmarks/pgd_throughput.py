"""PGD throughput on a CIFAR-sized network against its bare forward and backward passes, with and without mixed precision.

    python benchmarks/pgd_throughput.py [--arch wrn34_10] [--batch 256] [--steps 10] [--repeats 3] [--device auto]

Per precision (float32, then autocast bfloat16 where the device supports it):

- ``bare``: ``steps`` forward + input-backward passes of one batch, nothing else;
- ``purebench pgd``: ``ATTACKS.create("pgd")`` through ``Attack.__call__`` with the
  same steps (random start, validation, projection and success flags included).

Images per second are ``batch x steps / seconds`` (attack steps per second per
image); the fastest of ``--repeats`` rounds, after one warm-up round.  The
network is the arch with its initial weights: throughput does not depend on
them.  Device-agnostic: on a CPU, use a small ``--batch`` and ``--steps``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from attacks import ATTACKS  # noqa: E402
from bench.device import resolve_device  # noqa: E402
from bench.models import ARCHS  # noqa: E402
from recording import machine  # noqa: E402

EPS, STEP = 8 / 255, 2 / 255


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fastest(fn: Callable[[], None], device: torch.device, repeats: int) -> float:
    fn()  # warm-up: kernels, cuDNN autotuning, the allocator
    times = []
    for _ in range(repeats):
        synchronize(device)
        begin = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - begin)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="wrn34_10")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = ARCHS.create(args.arch, num_classes=10, image_shape=(3, 32, 32), mean=[0.5] * 3, std=[0.25] * 3).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    generator = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand((args.batch, 3, 32, 32), generator=generator).to(device)
    y = torch.randint(0, 10, (args.batch,), generator=generator).to(device)
    pgd = ATTACKS.create("pgd", steps=args.steps, step_size=STEP)

    def bare() -> None:
        for _ in range(args.steps):
            x_in = x.detach().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(model(x_in), y, reduction="sum"), x_in)

    def attack() -> None:
        pgd(model, x, y, EPS, generator=torch.Generator(device=device).manual_seed(0))

    precisions = [("float32", contextlib.nullcontext)]
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        precisions.append(("bfloat16 autocast", lambda: torch.autocast("cuda", dtype=torch.bfloat16)))
    elif device.type == "cpu":
        precisions.append(("bfloat16 autocast", lambda: torch.autocast("cpu", dtype=torch.bfloat16)))
    print(f"{args.arch}, batch {args.batch}, {args.steps} steps, {device} ({machine()})")
    print("| precision | run | seconds | images x steps / s | / bare |")
    print("|---|---|---|---|---|")
    for name, context in precisions:
        with context():
            seconds = {"bare fwd+bwd": fastest(bare, device, args.repeats), "purebench pgd": fastest(attack, device, args.repeats)}
        for run, s in seconds.items():
            print(f"| {name} | {run} | {s:.3f} | {args.batch * args.steps / s:.0f} | {s / seconds['bare fwd+bwd']:.3f} |")


if __name__ == "__main__":
    main()
