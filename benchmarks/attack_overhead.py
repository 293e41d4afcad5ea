"""What the PGD engine adds to the network's own cost, and how it compares with Foolbox.

One run on mnist5k with the small CNN (madry recipe by default) and the first
``--n`` test images, at the mnist5k preset (L-inf eps 0.3, step 0.01, 40 steps):

- ``bare``: 40 forward + input-backward passes of the same batch, nothing else
  (on the clean batch, and on the batch moved to PGD's random start, since the
  network's own speed depends a little on its input);
- ``purebench pgd``: ``ATTACKS.create("pgd")`` called through ``Attack.__call__``
  (random start, 40 steps, validation, projection and success flags included);
- ``foolbox LinfPGD``: Foolbox's PGD with the same eps, step, steps and random start;
- ``torchattacks PGD``: torchattacks' PGD, likewise (when torchattacks is installed:
  ``pip install --no-deps torchattacks``, since it pins an old ``requests``);
- ``engine arithmetic alone``: PGD's steps without the network (ascent
  direction, step and projection), what the loop adds to the passes.

They run interleaved for ``--repeats`` rounds, so a load change on a shared
machine touches all of them.  Each round records the process's CPU time and
the wall time; the table gives each one's fastest round.  CPU time is the
steadier measure where other processes share the cores (it excludes the time
spent waiting for one); it equals the work done when torch runs one thread.
``--load K`` starts K busy processes (one-thread matrix products) beside the
measurement for its whole duration, so that "under load" is one command; its
``--record`` goes to the "Attack overhead under load" section instead.
``--record`` writes the table, the command and the machine into the "Attack
overhead" section of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path
from typing import Callable

import foolbox as fb
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from attacks import ATTACKS, Norm, attack_preset  # noqa: E402
from attacks.norms import ascent_direction, project, random_start  # noqa: E402
from bench.allocator import keep_freed_memory  # noqa: E402
from bench.classifiers import ClassifierId, obtain_classifier  # noqa: E402
from bench.data import load_dataset  # noqa: E402
from recording import command_line, cpu_model, record_section  # noqa: E402

try:
    import torchattacks
except ImportError:  # an optional second peer
    torchattacks = None

HEADING = "## Attack overhead"
LOADED_HEADING = "## Attack overhead under load"
METHOD = """What is measured.  Each run is timed as a whole, interleaved with the others
for every round; "CPU" is the process's CPU time (user + system), steadier
than wall time where other processes share the cores.  purebench's PGD asks
autograd for the input gradient only; beyond the 40 passes it adds a random
start, its per-step arithmetic (the last row) and one forward pass for the
success flags, as Foolbox's PGD does.  "System" is the part of the CPU time
spent in the kernel, mostly page faults as the allocator maps fresh buffers
for the activations of a large batch; it varies between runs that do the same
work.  On a shared machine the two bare rows, which do the same work on
different inputs, show how far apart two measurements of equal cost can fall.
"""


def bare_passes(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> None:
    for _ in range(steps):
        x_in = x.detach().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(x_in), y, reduction="sum"), x_in)


def busy() -> None:
    """Load for ``--load``: one-thread matrix products until terminated."""
    torch.set_num_threads(1)
    a = torch.rand(512, 512)
    while True:
        a = (a @ a).clamp_(0.0, 1.0)


def engine_arithmetic(x: torch.Tensor, start: torch.Tensor, eps: float, step: float, steps: int) -> None:
    """The engine's own per-step work without the network: ascent direction, step, projection."""
    x_adv, grad = start, start - x
    for _ in range(steps):
        x_adv = project(x_adv + step * ascent_direction(grad, Norm.LINF), x, eps, Norm.LINF)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="madry", help="recipe of the mnist5k smallcnn (default: madry)")
    parser.add_argument("--n", type=int, default=1000, help="test images in the batch (default: 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (default: 5)")
    parser.add_argument("--record", action="store_true", help="write the results into benchmarks/README.md")
    parser.add_argument("--load", type=int, default=0, help="busy processes to run beside the measurement (default: 0)")
    parser.add_argument("--allocator", choices=["kept", "default"], default="kept",
                        help="glibc thresholds: purebench's (kept, as run_bench.py sets them) or glibc's default")
    args = parser.parse_args()
    if args.allocator == "kept":
        keep_freed_memory()

    data = load_dataset("mnist5k")
    model = obtain_classifier(ClassifierId("mnist5k", "smallcnn", args.recipe, 0), data=data, device="cpu").model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x, y = data.test.x[: args.n], data.test.y[: args.n]
    preset = attack_preset("mnist5k")
    eps, step, steps = preset["eps"], preset["step_size"], preset["steps"]

    pgd = ATTACKS.create("pgd", steps=steps, step_size=step)
    foolbox_pgd = fb.attacks.LinfPGD(abs_stepsize=step, steps=steps, random_start=True)
    fmodel = fb.PyTorchModel(model, bounds=(0, 1))
    x_start = random_start(x, eps, Norm.LINF, torch.Generator().manual_seed(0))
    robust: dict[str, float] = {}

    def ours() -> None:
        result = pgd(model, x, y, eps, generator=torch.Generator().manual_seed(0))
        robust["purebench pgd"] = 1 - result.success.float().mean().item()

    def theirs() -> None:
        _, _, success = foolbox_pgd(fmodel, x, y, epsilons=eps)
        robust["foolbox LinfPGD"] = 1 - success.float().mean().item()

    def torchattacks_pgd() -> None:
        x_adv = torchattacks.PGD(model, eps=eps, alpha=step, steps=steps, random_start=True)(x, y)
        with torch.no_grad():  # its success flags, as the other two compute theirs
            robust["torchattacks PGD"] = (model(x_adv).argmax(1) == y).float().mean().item()

    bare = f"bare, {steps} fwd+bwd, clean batch"
    runs: dict[str, Callable[[], None]] = {
        bare: lambda: bare_passes(model, x, y, steps),
        f"bare, {steps} fwd+bwd, batch at the random start": lambda: bare_passes(model, x_start, y, steps),
        "purebench pgd": ours,
        "foolbox LinfPGD": theirs,
        **({"torchattacks PGD": torchattacks_pgd} if torchattacks is not None else {}),
        f"engine arithmetic alone, {steps} steps": lambda: engine_arithmetic(x, x_start, eps, step, steps),
    }
    load = [multiprocessing.get_context("spawn").Process(target=busy, daemon=True) for _ in range(args.load)]
    for process in load:
        process.start()
    bare_passes(model, x, y, 2)  # warm-up: allocator and kernels
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    system: dict[str, list[float]] = {name: [] for name in runs}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(args.repeats):
        names = list(runs)
        for name in names[round_ % len(names):] + names[: round_ % len(names)]:
            start_sys, start_cpu, start_wall = resource.getrusage(resource.RUSAGE_SELF).ru_stime, time.process_time(), time.perf_counter()
            runs[name]()
            cpu[name].append(time.process_time() - start_cpu)
            system[name].append(resource.getrusage(resource.RUSAGE_SELF).ru_stime - start_sys)
            wall[name].append(time.perf_counter() - start_wall)
    load_average = os.getloadavg()[0]
    for process in load:
        process.terminate()

    lines = ["| run | CPU s | of which system s | CPU / bare | wall s | wall / bare | robust accuracy |",
             "|---|---|---|---|---|---|---|"]
    for name in runs:
        acc = f"{robust[name]:.1%}" if name in robust else ""
        fastest = cpu[name].index(min(cpu[name]))
        lines.append(f"| {name} | {cpu[name][fastest]:.2f} | {system[name][fastest]:.2f} | {min(cpu[name]) / min(cpu[bare]):.3f} | "
                     f"{min(wall[name]):.2f} | {min(wall[name]) / min(wall[bare]):.3f} | {acc} |")
    versus_fb = {kind: min(t["purebench pgd"]) / min(t["foolbox LinfPGD"]) for kind, t in (("CPU", cpu), ("wall", wall))}
    versus_ta = ({kind: min(t["purebench pgd"]) / min(t["torchattacks PGD"]) for kind, t in (("CPU", cpu), ("wall", wall))}
                 if "torchattacks PGD" in runs else None)
    command = command_line()
    beside = f", {args.load} busy process(es) beside it" if args.load else ""
    machine = (f"{cpu_model()}, {torch.get_num_threads()} torch thread(s) of {os.cpu_count()} cores, torch {torch.__version__}, "
               f"load average {load_average:.1f} at the end of the measurement{beside}")
    table = "\n".join(lines)
    peer_ta = (f"purebench pgd / torchattacks PGD: {versus_ta['CPU']:.3f} in CPU time, {versus_ta['wall']:.3f} in wall time.  "
               if versus_ta is not None else "torchattacks is not installed: no second peer.  ")
    summary = (f"purebench pgd / foolbox LinfPGD: {versus_fb['CPU']:.3f} in CPU time, {versus_fb['wall']:.3f} in wall time.  "
               f"{peer_ta}"
               f"Fastest of {args.repeats} interleaved rounds; mnist5k smallcnn/{args.recipe}/seed0, the first {args.n} test "
               f"images, L-inf eps {eps}, step {step}, {steps} steps; allocator: {args.allocator}.")
    print(table)
    print(summary)
    if args.record:
        record_section(LOADED_HEADING if args.load else HEADING, f"`{command}` ({datetime.date.today()}; {machine})\n\n{table}\n\n{summary}\n\n{METHOD}")
        print("recorded in benchmarks/README.md")


if __name__ == "__main__":
    main()
