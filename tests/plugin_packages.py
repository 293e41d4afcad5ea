"""Builds and installs a throwaway plugin distribution, as a third party would ship one, for the plugin tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'


def install_plugin(tmp_path_factory: pytest.TempPathFactory, name: str, modules: Mapping[str, str],
                   entry_points: str) -> Path:
    """pip-installs ``modules`` (file stem -> source) with ``entry_points`` (a setup.cfg section) into a new site dir."""
    src = tmp_path_factory.mktemp(f"{name}_src")
    for stem, source in modules.items():
        (src / f"{stem}.py").write_text(source)
    py_modules = "\n    ".join(modules)
    (src / "setup.cfg").write_text(f"[metadata]\nname = {name}\nversion = 0.0.1\n\n[options]\npy_modules = {py_modules}\n\n"
                                   f"{entry_points}")
    (src / "pyproject.toml").write_text(PYPROJECT)
    site = tmp_path_factory.mktemp(f"{name}_site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(site), str(src)], check=True, capture_output=True, text=True)
    return site


def site_env(site: Path) -> dict[str, str]:
    """The environment of a subprocess that sees the installed plugin and this checkout."""
    return {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"}
