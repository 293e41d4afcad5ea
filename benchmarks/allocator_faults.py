"""Page faults and kernel time of bare forward and backward passes, with glibc's default allocator thresholds and with purebench's.

    OMP_NUM_THREADS=1 python benchmarks/allocator_faults.py [--batch 1000] [--passes 20] [--repeats 3]

Each setting runs in a fresh subprocess (glibc's thresholds are per process and
adapt to what was freed before): the mnist5k small CNN at its initial weights,
``--passes`` forward + input-backward passes of one random batch, the fastest of
``--repeats`` rounds after one warm-up pass.  "kept" is ``bench.allocator.keep_freed_memory``,
which ``run_bench.py`` and the executors' worker processes apply.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import resource, sys, time, torch, torch.nn.functional as F
from bench.allocator import keep_freed_memory
from bench.models import ARCHS
batch, passes, repeats, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if mode == "kept" and not keep_freed_memory():
    raise SystemExit("not glibc: nothing to compare")
torch.manual_seed(0)
model = ARCHS.create("smallcnn", num_classes=10, image_shape=(1, 28, 28), mean=[0.13], std=[0.31]).eval()
for p in model.parameters():
    p.requires_grad_(False)
x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
def run(n):
    for _ in range(n):
        x_in = x.detach().requires_grad_(True)
        torch.autograd.grad(F.cross_entropy(model(x_in), y, reduction="sum"), x_in)
run(1)
rows = []
for _ in range(repeats):
    r0, c0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), time.perf_counter()
    run(passes)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    rows.append((time.process_time() - c0, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt, time.perf_counter() - w0))
print(*min(rows))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| allocator | CPU s | of which system s | page faults | wall s |")
    print("|---|---|---|---|---|")
    for mode in ("default", "kept"):
        out = subprocess.run([sys.executable, "-c", PROBE, str(args.batch), str(args.passes), str(args.repeats), mode],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
        cpu, system, faults, wall = float(out[0]), float(out[1]), int(float(out[2])), float(out[3])
        print(f"| {mode} | {cpu:.2f} | {system:.2f} | {faults} | {wall:.2f} |")


if __name__ == "__main__":
    main()
