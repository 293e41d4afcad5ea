"""Keep freed memory for reuse instead of handing it back to the kernel (glibc ``mallopt``), in purebench's own processes.

glibc serves each large allocation (a batch's activations: 50 MB for the
first convolution of the small CNN at batch 1,000) with a fresh ``mmap`` and
unmaps it when freed, so every forward and backward pass faults its buffers
in again, page by page.  On the CPU that kernel time was 24% of an attack's
CPU time (1.2 million page faults in 20 passes; benchmarks/README.md,
"Allocator").  Raising the mmap and trim thresholds makes those buffers come
from the heap and stay there for the next pass: the same values, computed
without the faults.  The price is a resident size that stays at its peak,
which suits a process that runs one job after another.

Applied by the command line and the executors' worker processes; not by
``import bench``, which leaves a notebook's process as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD = 1 << 30  # larger than any buffer purebench allocates on the CPU


def keep_freed_memory() -> bool:
    """Set glibc's thresholds for this process; False where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD))
