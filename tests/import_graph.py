"""The module import graph of purebench's packages, read from source (AST), and its cycles.

Every ``import`` counts, at module level and inside functions (a deferred
import is how a cycle usually hides).  Importing ``a.b.c`` also runs ``a`` and
``a.b`` first, so it adds edges to those packages too.  The one exception is a
package's PEP 562 ``__getattr__``: its imports run on first access of a lazy
attribute, never when the package is imported as a submodule's parent, so they
belong to a node of their own, ``PKG.__getattr__``, which ``from PKG import
NAME`` of a lazy NAME reaches.

``python tests/import_graph.py`` prints the cycles and layering violations
(none: exit status 0).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "attacks", "defenses")
LAZY = "__getattr__"

#: Layers from the bottom; a module may import its own layer and those below, never one above.
#: A module takes the layer of its longest matching prefix (``=NAME``: that module alone); the rest of
#: ``bench`` is the harness.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("=bench", "bench.registry", "bench.data", "bench.models", "bench.hashing", "bench.cache", "bench.errors",
              "bench.atomic", "bench.processes", "bench.choice", "bench.device", "bench.paths", "bench.checkpoints",
              "bench.component_params", "bench.job_progress")),
    ("attacks and recipes", ("attacks", "bench.recipes")),
    ("defenses", ("defenses",)),
    ("threat models", ("attacks.threats",)),
    ("harness", ("bench.__getattr__",)),
)
HARNESS = len(LAYERS) - 1


@dataclass
class Graph:
    """Modules (dotted names) and, for each, the modules it imports with the line of the first import."""

    root: Path
    edges: dict[str, dict[str, int]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def cycles(self) -> list[list[str]]:
        """The strongly connected components with more than one module (or a self-import), each as one cycle."""
        return [_cycle_in(component, self.edges) for component in _components(self.edges)
                if len(component) > 1 or next(iter(component)) in self.edges.get(next(iter(component)), {})]

    def violations(self) -> list[str]:
        """``importer -> imported`` where the imported module sits in a higher layer."""
        found = []
        for module, targets in sorted(self.edges.items()):
            for target, line in sorted(targets.items()):
                if layer_of(target) > layer_of(module):
                    found.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                                 f"({LAYERS[layer_of(target)][0]}) at {self.where(module, line)}")
        return found

    def where(self, module: str, line: int) -> str:
        path = self.files.get(module.removesuffix(f".{LAZY}"))
        return f"{path.relative_to(self.root)}:{line}" if path else f"{module}:{line}"

    def describe(self, cycle: list[str]) -> str:
        hops = [f"{a} -> {b} ({self.where(a, self.edges[a][b])})" for a, b in zip(cycle, cycle[1:] + cycle[:1])]
        return "\n  ".join(hops)


def layer_of(module: str) -> int:
    best, best_len = HARNESS, 0
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact = prefix.startswith("=")
            prefix = prefix.removeprefix("=")
            if (module == prefix or not exact and module.startswith(prefix + ".")) and len(prefix) >= best_len:
                best, best_len = index, len(prefix)
    return best


def build(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> Graph:
    files = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = Graph(root, files=files)
    lazy = {module: _lazy_names(path) for module, path in files.items() if path.name == "__init__.py"}
    for module, path in files.items():
        graph.edges.setdefault(module, {})
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        for node, owner in _imports(tree, module, is_package):
            graph.edges.setdefault(owner, {})
            for target in _targets(node, module, is_package, files, lazy):
                if target != owner:
                    graph.edges[owner].setdefault(target, node.lineno)
    return graph


def _lazy_names(path: Path) -> set[str]:
    """Names a package's ``__getattr__`` compares ``name`` with (its lazy attributes)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == LAZY:
            return {c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return set()


def _imports(tree: ast.Module, module: str, is_package: bool):
    """(import node, the node of the graph it belongs to) for every import in the module."""
    for top in tree.body:
        owner = f"{module}.{LAZY}" if is_package and isinstance(top, ast.FunctionDef) and top.name == LAZY else module
        for node in ast.walk(top):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node, owner


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, files: dict[str, Path],
             lazy: dict[str, set[str]]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_package else module.split(".")[:-1]
            anchor = anchor[:len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        names = []
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            if submodule in files:
                names.append(submodule)
            elif alias.name in lazy.get(base, ()):
                names.append(f"{base}.{LAZY}")
            else:
                names.append(base)
    own = module.split(".") if is_package else module.split(".")[:-1]
    ancestors = {".".join(own[:i]) for i in range(1, len(own) + 1)}  # already running when this module runs
    targets = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # the module and every package above it
            prefix = ".".join(parts[:i])
            if (prefix in files or prefix.endswith(f".{LAZY}")) and (prefix not in ancestors or i == len(parts)):
                targets.add(prefix)
    return targets


def _components(edges: dict[str, dict[str, int]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                found.append(component)
    return found


def _cycle_in(component: set[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """One shortest cycle through the component's first module (breadth-first back to it)."""
    start = min(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(edges.get(node, {})):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return path[::-1]
                if child in component and child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    return [start]


def main() -> int:
    graph = build()
    cycles, violations = graph.cycles(), graph.violations()
    for cycle in cycles:
        print(f"cycle of {len(cycle)} modules:\n  {graph.describe(cycle)}")
    for violation in violations:
        print(f"layering: {violation}")
    edges = sum(len(t) for t in graph.edges.values())
    print(f"{len(graph.files)} modules, {edges} imports: {len(cycles)} cycles, {len(violations)} layering violations")
    return 1 if cycles or violations else 0


if __name__ == "__main__":
    sys.exit(main())
