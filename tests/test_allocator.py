"""glibc keeps an attack's freed buffers for reuse once purebench's processes ask it to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_the_allocator_keeps_an_attacks_buffers_in_a_fresh_process():
    """After ``keep_freed_memory``, forward and backward passes of the small CNN fault (almost) no pages in (glibc).

    At batch 1,000 the first convolution's output is 50 MB, beyond the 32 MB up to
    which glibc's own mmap threshold adapts, so by default each pass maps it afresh.
    """
    probe = ("import resource, sys, torch, torch.nn.functional as F\n"
             "from bench.allocator import keep_freed_memory\n"
             "from bench.models import ARCHS\n"
             "if sys.argv[1] == 'kept' and not keep_freed_memory(): print('no glibc'); raise SystemExit\n"
             "model = ARCHS.create('smallcnn', num_classes=10, image_shape=(1, 28, 28), mean=[0.1], std=[0.3])\n"
             "x, y = torch.rand(1000, 1, 28, 28, requires_grad=True), torch.zeros(1000, dtype=torch.long)\n"
             "def step(): torch.autograd.grad(F.cross_entropy(model(x), y), x)\n"
             "step()\n"
             "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
             "for _ in range(3): step()\n"
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n")
    faults = {mode: subprocess.run([sys.executable, "-c", probe, mode], capture_output=True, text=True, check=True,
                                   cwd=Path(__file__).resolve().parents[1]).stdout.strip() for mode in ("default", "kept")}
    if faults["kept"] == "no glibc":
        pytest.skip("not glibc: mallopt is not there")
    assert int(faults["default"]) > 10_000 and int(faults["kept"]) < int(faults["default"]) // 4
