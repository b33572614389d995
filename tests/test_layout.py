"""The package's layout: small modules, imports that flow one way, few and explained lazy imports.

Read with ``ast`` only (nothing is imported), so this runs in a fraction of a second.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "molgate"
MAX_LINES = 420
MAX_LAZY_IMPORTS = 15


def _modules() -> dict[str, Path]:
    """``molgate.x.y`` -> its file (a package by its ``__init__.py``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _owner(name: str) -> str | None:
    """The molgate module ``name`` lives in (``molgate.a.b.func`` -> ``molgate.a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The molgate modules an import statement loads (by its own name, not its parents')."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    return [owner for owner in map(_owner, names) if owner and owner != module]


def _function_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
                found.append(child)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(tree, False)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the molgate modules it imports, at the top or inside functions, with the packages
    that importing them runs (``import molgate.a.b`` runs ``molgate/a/__init__.py``), except the
    module's own packages, which are already running."""
    graph = {name: set() for name in MODULES}
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _imported(name, node):
                    parts = target.split(".")
                    packages = {".".join(parts[:i]) for i in range(1, len(parts))}
                    graph[name].add(target)
                    graph[name].update(p for p in packages if p in MODULES and not name.startswith(p + "."))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_module_is_long():
    long = {str(path.relative_to(PACKAGE.parent)): n for path in MODULES.values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules by concept (over {MAX_LINES} lines): {long}"


def test_imports_have_no_circle():
    assert not cycles(import_graph())


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_few_function_level_imports_each_with_a_reason():
    lazy, unexplained = [], []
    for name, tree in TREES.items():
        lines = MODULES[name].read_text().splitlines()
        for node in _function_imports(tree):
            where = f"{MODULES[name].relative_to(PACKAGE.parent)}:{node.lineno}"
            lazy.append(where)
            same, previous = lines[node.lineno - 1], lines[node.lineno - 2] if node.lineno > 1 else ""
            if "# lazy:" not in same and not previous.strip().startswith("# lazy:"):
                unexplained.append(where)
    assert len(lazy) < MAX_LAZY_IMPORTS, f"move imports to the module top: {lazy}"
    assert not unexplained, f"say why each import is inside a function ('# lazy: reason'): {unexplained}"
