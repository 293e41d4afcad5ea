"""README's fitted plugin, installed as a package: from the CLI, again from the cache, and from ``bench.evaluate``."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from bench.cache import ArtifactCache
from bench.store import flags_of
from plugin_packages import REPO, install_plugin, site_env
README = (REPO / "README.md").read_text()

BLUR_MODULE = '''
"""A mean filter written the ordinary way: its size is a constructor argument, not passed to super().__init__."""
import torch.nn.functional as F
from defenses import Defense


class Blur(Defense):
    def __init__(self, k=3):
        super().__init__()
        self.k = k

    def purify(self, x):
        return F.avg_pool2d(x, self.k, stride=1, padding=self.k // 2, count_include_pad=False)
'''

SPEC = """
name = "fitted-plugin"
n = 20
device = "cpu"
threads = 1
datasets = ["mnist5k"]
archs = ["mine"]
defenses = ["none", "meanpull", "strong", "blur3", "blur5"]
attacks = ["pgd"]

[classifiers.mine]
arch = "smallcnn"
checkpoint = "mine.pt"

[defense_params.strong]
use = "meanpull"
strength = 0.8

[defense_params.blur3]
use = "blur"
k = 3

[defense_params.blur5]
use = "blur"
k = 5

[attack_params.pgd]
steps = 3
"""


def readme_block(language: str, marker: str) -> str:
    """The README's ``language`` code block that contains ``marker``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README, re.S)
    (block,) = [b for b in blocks if marker in b]
    return block


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """README's plugin module and entry point, and a Blur defense, pip-installed into their own site directory."""
    entry_points = readme_block("ini", "meanpull_plugin:make") + "    blur = blur_plugin:Blur\n"
    modules = {"meanpull_plugin": readme_block("python", "# meanpull_plugin.py"), "blur_plugin": textwrap.dedent(BLUR_MODULE)}
    return install_plugin(tmp_path_factory, "purebench-meanpull-plugin", modules, entry_points)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, natural_cnn) -> Path:
    work = tmp_path_factory.mktemp("fitted_plugin_run")
    torch.save(natural_cnn.state_dict(), work / "mine.pt")
    (work / "spec.toml").write_text(SPEC)
    return work


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fitted_plugin_cache")


def run(args: list[str], site: Path, workdir: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**site_env(site), "PUREBENCH_CACHE": str(cache),
           "PUREBENCH_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=workdir, capture_output=True, text=True, env=env)


def per_example(db: Path) -> dict[tuple[str, str], tuple[bytes, float]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT job_key, defense, attack, accuracy FROM results").fetchall()
    finally:
        conn.close()
    flags = flags_of(db, [key for key, *_ in rows])
    return {(defense, attack): (flags[key][0].tobytes(), accuracy) for key, defense, attack, accuracy in rows}


def fitted_now(db: Path) -> dict[str, bool]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT label, details_json FROM jobs WHERE kind = 'fit'").fetchall()
    finally:
        conn.close()
    return {label: json.loads(details)["fitted_now"] for label, details in rows}


@pytest.fixture(scope="module")
def first_and_second(plugin_site: Path, workdir: Path, cache: Path) -> tuple[Path, Path]:
    for name in ("first", "second"):
        out = run([str(REPO / "run_bench.py"), "run", "spec.toml", "--results", f"{name}.sqlite"], plugin_site, workdir, cache)
        assert out.returncode == 0, out.stderr
    return workdir / "first.sqlite", workdir / "second.sqlite"


def test_the_readme_plugin_is_at_most_25_lines():
    assert len(readme_block("python", "# meanpull_plugin.py").strip().splitlines()) <= 25


def test_the_second_run_loads_the_fitted_states_and_gives_identical_per_example_results(first_and_second):
    first, second = first_and_second
    assert set(fitted_now(first).values()) == {True} and len(fitted_now(first)) == 2  # meanpull and strong
    assert set(fitted_now(second).values()) == {False} and len(fitted_now(second)) == 2
    assert per_example(second) == per_example(first)
    assert len(per_example(first)) == 10  # five stacks, clean and pgd


def test_constructor_arguments_are_variants_with_their_own_results(first_and_second):
    results = per_example(first_and_second[0])
    assert results[("blur3", "pgd")] != results[("blur5", "pgd")] or results[("blur3", "clean")] != results[("blur5", "clean")]
    assert results[("meanpull", "clean")] != results[("strong", "clean")]


def test_bench_evaluate_takes_the_plugin_by_name_and_as_an_object(first_and_second, plugin_site, workdir, cache):
    code = ("import bench; from meanpull_plugin import MeanPull\n"
            "bench.evaluate('mine.pt', arch='smallcnn', defenses=['meanpull', MeanPull(strength=0.8)], attacks=['pgd'], "
            "n=20, device='cpu', threads=1, attack_params={'pgd': {'steps': 3}}, results='evaluate.sqlite', progress=False)")
    out = run(["-c", code], plugin_site, workdir, cache)
    assert out.returncode == 0, out.stderr
    cli, evaluated = per_example(first_and_second[0]), per_example(workdir / "evaluate.sqlite")
    assert {k: v for k, v in evaluated.items() if k[0] == "meanpull"} == {k: v for k, v in cli.items() if k[0] == "meanpull"}
    objects = {k[1]: v for k, v in evaluated.items() if k[0] not in ("meanpull", "none")}
    assert objects == {k[1]: v for k, v in cli.items() if k[0] == "strong"}  # the same parameters, fitted alike


def test_a_cached_state_without_a_key_is_refused_naming_it(first_and_second, plugin_site, workdir, cache):
    store = ArtifactCache(cache)
    (manifest,) = [p for p in (cache / "defenses").glob("*.json")
                   if json.loads(p.read_text())["metadata"]["defense"] == "meanpull"]
    artifact = store.load("defenses", manifest.stem)
    store.save("defenses", manifest.stem, {k: v for k, v in artifact.tensors.items() if k != "mean"}, artifact.metadata)
    out = run([str(REPO / "run_bench.py"), "run", "spec.toml", "--results", "third.sqlite"], plugin_site, workdir, cache)
    conn = sqlite3.connect(workdir / "third.sqlite")
    try:
        errors = [e for (e,) in conn.execute("SELECT error FROM jobs WHERE status = 'failed'")]
    finally:
        conn.close()
    assert out.returncode != 0 and errors
    assert all("missing keys: mean;" in e for e in errors), errors
