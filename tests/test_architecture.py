"""The package's shape, proven from its imports: data flows one way.

Layers, lowest first (a module may import its own layer and lower ones only):
text · problems · model → fields → rules → read → check → forms writers · write → deliver →
results · workers · batch → cli. A writer never imports a reader; only cli.py knows click; no module
grows past 500 lines.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "toolkit"
MAX_LINES = 500

# (layer rank, module prefixes) — the first matching prefix wins, most specific first.
LAYERS: list[tuple[int, str]] = [
    (0, "toolkit.text"), (0, "toolkit.errors"),
    (1, "toolkit.problems"),
    (2, "toolkit.model"), (2, "toolkit.results"),
    (3, "toolkit.fields"),
    (4, "toolkit.rules"),
    (5, "toolkit.read"),
    (6, "toolkit.check"),
    (7, "toolkit.forms"), (7, "toolkit.write"),
    (8, "toolkit.deliver"),
    (9, "toolkit.workers"), (9, "toolkit.process"), (9, "toolkit.store"), (9, "toolkit.unit_projects"),
    (10, "toolkit.batch"), (10, "toolkit.analysis"),
    (11, "toolkit.cli"), (12, "toolkit.__main__"), (12, "toolkit"),
]
WRITERS = ("toolkit.forms.template", "toolkit.forms.returned", "toolkit.write", "toolkit.deliver")
READERS = ("toolkit.read", "toolkit.check")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _rank(module: str) -> int:
    for rank, prefix in sorted(LAYERS, key=lambda lp: -len(lp[1])):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def _imports(path: Path) -> set[str]:
    """Every toolkit module ``path`` imports, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("toolkit"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("toolkit"):
            for a in node.names:  # `from toolkit.x import y`: y may be a module
                sub = f"{node.module}.{a.name}"
                out.add(sub if _exists(sub) else node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (use absolute toolkit.… imports)")
    return out


def _exists(module: str) -> bool:
    p = ROOT.joinpath(*module.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


MODULES = {_module(p): p for p in sorted(PKG.rglob("*.py"))}
GRAPH = {m: _imports(p) - {m} for m, p in MODULES.items()}


def test_no_import_cycle() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH.get(v, ()):
            if w not in MODULES:
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
                cycles.append(sorted(comp))

    for m in MODULES:
        if m not in index:
            visit(m)
    assert cycles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_its_own_layer_or_lower(module: str) -> None:
    upward = sorted(t for t in GRAPH[module] if t in MODULES and _rank(t) > _rank(module)
                    and not module.startswith(t + "."))  # a package's own __init__ is not "higher"
    assert upward == [], f"{module} (layer {_rank(module)}) imports higher layers: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(WRITERS)))
def test_no_writer_imports_a_reader(module: str) -> None:
    assert sorted(t for t in GRAPH[module] if t.startswith(READERS)) == []


def test_only_the_cli_knows_click() -> None:
    users = sorted(m for m, p in MODULES.items()
                   if any(isinstance(n, (ast.Import, ast.ImportFrom)) and "click" in ast.dump(n)
                          for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))))
    assert users == ["toolkit.cli"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_500_lines(module: str) -> None:
    n = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{module}: {n} lines"


def test_every_module_says_its_job() -> None:
    silent = [m for m, p in MODULES.items() if p.stat().st_size > 200
              and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None]
    assert silent == []
