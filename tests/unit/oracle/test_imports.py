"""The package layering: no import circles among the modules of `oracle` and `gridmint`, and
`gridmint` (the shared library) imports nothing from `oracle` (the daemon built on it).

Read from the source with `ast`, so an import inside a function counts as much as one at the top
(a lazy import hides a circle; it does not remove it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("oracle", "gridmint")


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages (a package is its __init__)."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module of the packages, line) of every import statement in one module."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module mod
            targets = [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix for alias in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` of a module of ours: the deepest name that is a module
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.append((target, node.lineno))
    return found


def _graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], int]]:
    modules = _modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    lines: dict[tuple[str, str], int] = {}
    for name, path in modules.items():
        for target, line in _imports(name, path, modules):
            edges[name].add(target)
            lines.setdefault((name, target), line)
    return edges, lines


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_relative_lazy_and_package_imports():
    """The checks below are only as good as the graph: it must hold edges that exist today."""
    edges, _lines = _graph()
    assert "oracle.eip712" in edges["oracle.outbox"]  # `from .eip712 import Reading`
    assert "oracle.sources.parsers" in edges["oracle.config"]  # a lazy import inside a function
    assert "oracle.sources" in edges["oracle.sources.p1"]  # `from . import SourceError`
    assert "oracle.sources.mqtt" in edges["oracle.homeassistant"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles_in_oracle_or_gridmint():
    edges, lines = _graph()
    circles = []
    for component in _cycles(edges):
        inside = [f"{a} -> {b} (line {lines[(a, b)]})" for a in component for b in sorted(edges[a]) if b in component]
        circles.append("; ".join(inside))
    assert circles == [], "import circles: " + " | ".join(circles)


def test_gridmint_imports_nothing_from_oracle():
    edges, lines = _graph()
    upward = [
        f"{name.replace('.', '/')}.py line {lines[(name, target)]} imports {target}"
        for name in sorted(edges) if name.split(".")[0] == "gridmint"
        for target in sorted(edges[name]) if target.split(".")[0] == "oracle"
    ]
    assert upward == [], "gridmint must not depend on the oracle: " + "; ".join(upward)
