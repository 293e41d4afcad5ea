"""The packages import each other without cycles, and each layer only imports the layers below it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import import_graph
import pytest

REPO = Path(__file__).resolve().parents[1]


def test_purebench_imports_have_no_cycle() -> None:
    graph = import_graph.build()
    cycles = graph.cycles()
    assert not cycles, "import cycles:\n" + "\n".join(graph.describe(c) for c in cycles)


def test_no_layer_imports_a_higher_one() -> None:
    violations = import_graph.build().violations()
    assert not violations, "\n".join(violations)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_a_deferred_import_closing_a_cycle_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"bench/__init__.py": "", "bench/a.py": "from bench.b import f\n",
                            "bench/b.py": "def f():\n    from bench.a import g\n"})
    graph = import_graph.build(root, ("bench",))
    assert graph.cycles() == [["bench.a", "bench.b"]]
    assert "bench/b.py:2" in graph.describe(graph.cycles()[0])


def test_the_parent_package_counts_unless_it_is_the_importers_own(tmp_path: Path) -> None:
    """``import attacks.base`` runs ``attacks/__init__``; a module inside ``attacks`` is already past that."""
    root = _tree(tmp_path, {"attacks/__init__.py": "from attacks import pgd\n", "attacks/base.py": "",
                            "attacks/pgd.py": "from attacks.base import X\n",
                            "bench/__init__.py": "", "bench/registry.py": "import attacks.base\n"})
    graph = import_graph.build(root, ("attacks", "bench"))
    assert graph.edges["attacks.pgd"] == {"attacks.base": 1}
    assert set(graph.edges["bench.registry"]) == {"attacks", "attacks.base"}
    assert graph.cycles() == []


def test_a_cycle_through_a_package_init_is_found(tmp_path: Path) -> None:
    """The shape the old ``attacks/__init__`` had: it imported ``bench``, whose recipes import the attack engine."""
    root = _tree(tmp_path, {"attacks/__init__.py": "import bench\n", "attacks/base.py": "",
                            "bench/__init__.py": "from bench.recipes import R\n",
                            "bench/recipes.py": "from attacks.base import A\n"})
    assert import_graph.build(root, ("attacks", "bench")).cycles() == [["attacks", "bench", "bench.recipes"]]


def test_lazy_attributes_of_a_package_are_a_node_of_their_own(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"bench/__init__.py": """
        def __getattr__(name):
            if name == "evaluate":
                from bench.evaluation import evaluate
                return evaluate
        """, "bench/evaluation.py": "from bench.registry import R\n", "bench/registry.py": "",
        "bench/cli.py": "from bench import evaluate\n"})
    graph = import_graph.build(root, ("bench",))
    assert graph.edges["bench"] == {}
    assert graph.edges["bench.__getattr__"] == {"bench.evaluation": 4}
    assert graph.edges["bench.cli"] == {"bench.__getattr__": 1}
    assert graph.cycles() == []


def test_a_core_module_importing_the_harness_is_a_violation(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"bench/__init__.py": "", "bench/registry.py": "from bench.plan import Plan\n",
                            "bench/plan.py": ""})
    violations = import_graph.build(root, ("bench",)).violations()
    assert len(violations) == 1 and violations[0].startswith("bench.registry (core) imports bench.plan (harness)")


@pytest.mark.parametrize("module", ["bench", "bench.registry", "bench.hashing", "bench.errors"])
def test_core_modules_import_without_the_harness(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('attacks', 'defenses')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_script_reports_the_graph() -> None:
    out = subprocess.run([sys.executable, "tests/import_graph.py"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    assert out.stdout.strip().endswith("0 cycles, 0 layering violations")
