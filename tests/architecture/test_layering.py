"""The import structure of the package, read from its source (AST): floors and no cycles.

Floors, from the ground (DESIGN.md): errors → registry/resources/strict_yaml/bounds → autodiff → data → cfd →
problems → models → training → evaluation → spec, catalog → api → cli. A module may import its own sub-package
and any lower floor, never a higher one (objectives in ``training`` rely on the declared model
interfaces of ``models/base.py``; no model imports training). Every import counts, including
those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sciflow"

FLOOR = {"errors": 0, "registry": 1, "resources": 1, "strict_yaml": 1, "bounds": 1, "autodiff": 2, "data": 3,
         "cfd": 4, "problems": 5, "models": 6, "training": 7, "evaluation": 8, "spec": 9, "catalog": 9, "api": 10,
         "cli": 11, "__main__": 12}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """sciflow modules that ``path`` imports (absolute or relative, at any depth)."""
    out = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        out.update(n for n in names if n.split(".")[0] == "sciflow")
    return out


def _floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "sciflow"


def _graph() -> dict[str, set[str]]:
    """Module → the sciflow modules it imports. The package face ``sciflow/__init__.py`` imports
    the API lazily (on attribute access) and others read only its ``__version__`` from it, so
    edges into and out of the face are left out."""
    mods = _modules()
    return {m: _imports(p, m, set(mods)) - {"sciflow"} for m, p in mods.items() if m != "sciflow"}


def test_every_subpackage_has_a_floor():
    assert {_floor(m) for m in _modules()} - {"sciflow"} <= set(FLOOR)


def test_no_module_imports_a_higher_floor():
    wrong = []
    for mod, imports in _graph().items():
        src = _floor(mod)
        for imp in imports:
            dst = _floor(imp)
            if dst == src:
                continue
            if FLOOR[dst] >= FLOOR[src]:
                wrong.append(f"{mod} -> {imp}")
    assert not wrong, "imports that run up (or across) floors:\n" + "\n".join(sorted(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
