"""The package's layers: each module imports only its own layer or the ones below, no cycles.

Every ``import`` in ``quake/`` is read from the source (function-level ones too, so a lazy
import cannot hide an upward dependency or a circle), and ``quake`` never imports streamlit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "quake"

# Lowest first. A module may import modules of its own layer and of the layers before it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "foundation",
        (
            "quake",
            "quake.errors",
            "quake.settings",
            "quake.progress",
            "quake.atomic",
            "quake.behind",
        ),
    ),
    ("data", ("quake.data",)),
    ("metrics", ("quake.metrics",)),
    ("models", ("quake.models",)),
    ("scoring", ("quake.scoring",)),
    ("service", ("quake.service", "quake.viz")),
    ("interface", ("quake.cli", "quake.commands", "quake.__main__")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """Index in LAYERS of the most specific prefix that names ``module``."""
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact = module == prefix
            under = module.startswith(prefix + ".") and prefix != "quake"
            if (exact or under) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    if best is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")
    return best


def _resolve(base: str, name: str | None) -> str:
    """The quake module that ``from base import name`` depends on."""
    if name and f"{base}.{name}" in MODULES:
        return f"{base}.{name}"
    return base


def imports(module: str) -> list[tuple[str, int]]:
    """``(imported quake module, line)`` for every import statement in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for a in node.names:
                out.append((_resolve(base, a.name), node.lineno))
    return out


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for target, _ in imports(m):
            if target in MODULES and target != m:
                edges[m].add(target)
    return edges


def test_every_module_has_a_layer():
    for m in MODULES:
        layer_of(m)


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for m in MODULES:
        for target, line in imports(m):
            if target.split(".")[0] != "quake" or target not in MODULES:
                continue
            if layer_of(target) > layer_of(m):
                upward.append(
                    f"{MODULES[m].relative_to(ROOT)}:{line}: {m} ({LAYERS[layer_of(m)][0]}) "
                    f"imports {target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_package_never_imports_streamlit():
    offenders = [
        f"{MODULES[m].relative_to(ROOT)}:{line}"
        for m in MODULES
        for target, line in imports(m)
        if target.split(".")[0] == "streamlit"
    ]
    assert not offenders, offenders


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from quake.service.jobs import x\n", "upward"),
        ("def f():\n    from quake.scoring import evaluate\n", "upward"),
        ("from quake.data.grid import Grid\n", None),
    ],
)
def test_the_checker_sees_lazy_and_upward_imports(tmp_path, monkeypatch, source, expected):
    fake = PACKAGE / "models" / "_layer_probe.py"
    monkeypatch.setitem(MODULES, "quake.models._layer_probe", fake)
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source)
    found = [t for t, _ in imports("quake.models._layer_probe")]
    up = any(t in MODULES and layer_of(t) > layer_of("quake.models") for t in found)
    assert up == (expected == "upward"), found
