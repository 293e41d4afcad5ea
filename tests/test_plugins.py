"""Third-party plugins: a separately installed package with entry points is usable by name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PLUGIN_MODULE = '''
"""A tiny external defense: halves the distance of every pixel to 0.5."""
import torch
from defenses import Defense


class Halfway(Defense):
    """Moves pixels halfway to grey."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + (x - 0.5) / 2


def make(**params):
    return Halfway(**params)
'''

SETUP_CFG = """
[metadata]
name = purebench-halfway-plugin
version = 0.0.1

[options]
py_modules = halfway_plugin

[options.entry_points]
purebench.defenses =
    halfway = halfway_plugin:make
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds and pip-installs the plugin package into its own site directory."""
    src = tmp_path_factory.mktemp("plugin_src")
    (src / "halfway_plugin.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    (src / "setup.cfg").write_text(SETUP_CFG)
    (src / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n')
    site = tmp_path_factory.mktemp("plugin_site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(src)],
        check=True, capture_output=True, text=True,
    )
    return site


def _run(args: list[str], site: Path) -> subprocess.CompletedProcess[str]:
    env_path = f"{site}{os.pathsep}{REPO}"
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": env_path})


def test_installed_plugin_is_listed_by_the_cli(plugin_site: Path) -> None:
    out = _run(["run_bench.py", "list", "defenses"], plugin_site)
    assert out.returncode == 0, out.stderr
    assert "halfway" in [line.split()[0] for line in out.stdout.splitlines()]


def test_installed_plugin_is_usable_by_name_in_a_stack(plugin_site: Path) -> None:
    code = (
        "import torch; from defenses import Stack; s = Stack.from_name('halfway'); "
        "print(s.name, float(s.purify(torch.ones(1, 1, 2, 2)).max()))"
    )
    out = _run(["-c", code], plugin_site)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["halfway", "0.75"]


def test_plugin_is_absent_without_its_package() -> None:
    out = subprocess.run([sys.executable, "run_bench.py", "list", "defenses"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    assert "halfway" not in [line.split()[0] for line in out.stdout.splitlines()]
