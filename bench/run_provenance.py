"""Provenance recorded with every run: library versions and the code revision."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PACKAGES = ("purebench", "torch", "torchvision", "numpy", "foolbox", "pyautoattack", "robustbench", "safetensors", "pandas", "ray")
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def versions() -> dict[str, str]:
    """Installed versions of the packages results depend on (absent ones are left out)."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def code_revision() -> str | None:
    """``git describe``-like revision of the source tree, with ``-dirty`` for local changes; None outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=10).stdout.strip()

    try:
        revision = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return revision + ("-dirty" if dirty else "")
