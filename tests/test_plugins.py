"""Third-party plugins: a separately installed package with entry points is usable by name."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from plugin_packages import REPO, install_plugin, site_env

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

ENTRY_POINTS = """
[options.entry_points]
purebench.defenses =
    halfway = halfway_plugin:make
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds and pip-installs the plugin package into its own site directory."""
    return install_plugin(tmp_path_factory, "purebench-halfway-plugin", {"halfway_plugin": textwrap.dedent(PLUGIN_MODULE)},
                          ENTRY_POINTS)


def _run(args: list[str], site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=site_env(site))


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
