"""A third-party threat model, installed as a package with an entry point, runs through the CLI, planner, store and report."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from plugin_packages import REPO, install_plugin, site_env

PLUGIN_MODULE = '''
"""Uniform noise in the L-inf eps-ball: the floor any defense should clear."""
import torch

from attacks.base import AttackResult, predict
from attacks.norms import Norm
from attacks.threats import ThreatModel
from bench.errors import InvalidInputError


class UniformNoise(ThreatModel):
    """x + U(-r, r) per pixel with r = fraction * eps, whatever the attack; its set serves every stack."""

    depends_on_stack = False

    def __init__(self, fraction: float = 1.0) -> None:
        if not 0 < fraction <= 1:
            raise InvalidInputError(f"fraction must be in (0, 1], got {fraction!r}")
        self.fraction = fraction

    def refuse_attack(self, attack):
        if attack.norm is not Norm.LINF:
            return "the noise threat fills an L-inf ball; give it an L-inf attack (pgd, square)"
        return None

    def run(self, attack, classifier, stack, x, y, eps, *, lam, generator):
        noise = torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1
        x_adv = (x + self.fraction * eps * noise).clamp(0, 1)
        return AttackResult(x_adv, predict(classifier, x_adv) != y)
'''

ENTRY_POINTS = """
[options.entry_points]
purebench.threats =
    noise = noise_threat:UniformNoise
"""

FAST = ["--set", "recipe_params.natural.epochs=1", "--set", "attack_params.pgd.steps=3", "--set",
        "attack_params.square.n_queries=5"]


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Builds and pip-installs the plugin package into its own site directory."""
    return install_plugin(tmp_path_factory, "purebench-noise-threat", {"noise_threat": textwrap.dedent(PLUGIN_MODULE)},
                          ENTRY_POINTS)


def _run(args: list[str], site: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPO / "run_bench.py"), *args], cwd=cwd, capture_output=True, text=True,
                          env={**site_env(site), "OMP_NUM_THREADS": "1"})


def test_the_plugin_threat_is_listed(plugin_site: Path) -> None:
    out = _run(["list", "threats"], plugin_site)
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.splitlines()] == [
        "adaptive", "auxaware", "blackbox", "noise", "oblivious", "transfer"]


def test_the_plugin_threat_refuses_what_it_declared_before_any_work(plugin_site: Path, tmp_path: Path) -> None:
    results = tmp_path / "refused.sqlite"
    out = _run(["run", "--attack", "cw", "--threat", "noise", "--n", "10", "--results", str(results)], plugin_site)
    assert out.returncode == 2
    assert "attack 'cw' with threat 'noise': the noise threat fills an L-inf ball" in out.stderr
    bad = _run(["run", "--threat", "loud", "--set", "threat_params.loud.use=noise", "--set", "threat_params.loud.fraction=2",
                "--results", str(results)], plugin_site)
    assert bad.returncode == 2 and "fraction must be in (0, 1], got 2" in bad.stderr
    typo = _run(["run", "--threat", "loud", "--set", "threat_params.loud.use=noise", "--set", "threat_params.loud.fractoin=1",
                 "--results", str(results)], plugin_site)
    assert typo.returncode == 2 and "did you mean 'fraction'" in typo.stderr
    assert not results.exists()


def test_the_plugin_threat_shares_one_set_across_stacks_in_the_plan(plugin_site: Path) -> None:
    code = ("from bench.plan import build_plan; from bench.spec import parse_spec; "
            "spec = parse_spec({'defenses': ['none', 'aid'], 'attacks': ['pgd', 'square'], 'threats': ['noise', 'adaptive']}); "
            "crafts = [j.task.threat.model for j in build_plan(spec).ordered() if j.kind.value == 'craft']; "
            "print(crafts.count('noise'), crafts.count('adaptive'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env=site_env(plugin_site))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "4"]  # one noise set per attack; one adaptive set per attack and stack


def test_the_plugin_threat_runs_from_the_cli_into_the_store_and_the_report(plugin_site: Path, tmp_path: Path) -> None:
    results = tmp_path / "noise.sqlite"
    out = _run(["run", "--attack", "pgd,square", "--threat", "oblivious,noise", "--n", "20", "--results", str(results),
                *FAST], plugin_site)
    assert out.returncode == 0, out.stderr
    assert "lowest accuracy (%) per threat [95% interval]" in out.stdout and "noise" in out.stdout
    with sqlite3.connect(results) as conn:
        rows = conn.execute("SELECT attack, threat_model, accuracy, accuracy_undefended FROM results WHERE threat = 'noise'"
                            ).fetchall()
        crafts = conn.execute("SELECT label FROM jobs WHERE kind = 'craft'").fetchall()
    assert sorted(r[0] for r in rows) == ["pgd", "square"] and {r[1] for r in rows} == {"noise"}
    assert all(0 <= r[2] <= 1 for r in rows)
    assert sorted(label.split()[1] for (label,) in crafts) == ["pgd/noise", "pgd/oblivious", "square/noise", "square/oblivious"]
    exported = _run(["export", str(results), "--format", "csv"], plugin_site)
    assert exported.returncode == 0, exported.stderr
    assert sum(",noise," in line for line in exported.stdout.splitlines()) == 2
    report = _run(["report", str(results), "-o", str(tmp_path / "report")], plugin_site)
    assert report.returncode == 0, report.stderr
    table = pd.read_csv(next((tmp_path / "report").rglob("*other-threats*.csv")))
    assert list(table.columns) == ["Section", "Classifier", "Defense", "noise"]
    noise = {r[0]: 100 * r[2] for r in rows}
    assert table["noise"].tolist() == [round(min(noise.values()), 2)]
