"""What the benchmark scripts share: the machine they ran on, and writing their section of benchmarks/README.md."""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

import torch

README = Path(__file__).with_name("README.md")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return re.search(r"Model name:\s*(.+)", out).group(1).strip()
    except (OSError, subprocess.CalledProcessError, AttributeError):
        return platform.processor() or "unknown CPU"


def machine() -> str:
    gpu = f", GPU {torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}" if torch.cuda.is_available() else ""
    return (f"{cpu_model()}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}, "
            f"load average {os.getloadavg()[0]:.1f} at the end of the run")


def command_line() -> str:
    """The command that ran this script, with the OMP_NUM_THREADS it ran under."""
    command = "python " + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    threads = os.environ.get("OMP_NUM_THREADS")
    return f"OMP_NUM_THREADS={threads} {command}" if threads else command


def record_section(heading: str, body: str) -> None:
    """Replace the ``heading`` section of benchmarks/README.md (others' sections are left as they are), atomically."""
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    section = f"{heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    tmp = README.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(README)
