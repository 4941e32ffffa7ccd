"""The core's imports form no cycle, and no module outside ``mirror.py`` reaches into an FSMirror.

``tox -e lint`` checks the layers with import-linter (the contracts in ``pyproject.toml``). This
file is the core env's own check, without import-linter: a small reader of the source's ``import``
statements. It counts every import that executes, top-level or inside a function (a lazy import
still runs, and can still find its importer half-initialised); it skips the ones under ``if
TYPE_CHECKING:``, which never run. Unlike import-linter's sibling check, it also sees a cycle
through a package's ``__init__`` (``from . import __version__`` in a module ``fsmirror/__init__.py``
imports, as ``manifest`` did).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "fsmirror_core" / "fsmirror"
ADAPTERS = ROOT / "integrations"

Graph = dict[str, dict[str, list[int]]]  # importer -> imported -> line numbers


def _modules(package_dir: Path) -> dict[str, Path]:
    """Every module of the package at ``package_dir`` by dotted name (a package by its own name)."""
    top = package_dir.parent
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(top).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _executed_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that can run: everywhere but the body of ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _executed_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _executed_imports(node)


def import_graph(package_dir: Path) -> Graph:
    """The package's imports of its own modules that execute, with the lines they are on."""
    modules = _modules(package_dir)
    graph: Graph = {name: {} for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _executed_imports(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    stem = ".".join([*base, node.module] if node.module else base)
                else:
                    stem = node.module or ""
                # `from pkg import mod` imports the module pkg.mod; `from pkg import name`, pkg itself
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            for target in dict.fromkeys(targets):
                if target in modules and target != name:
                    graph[name].setdefault(target, []).append(node.lineno)
    return graph


def cycles(graph: Mapping[str, Mapping[str, list[int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _describe(graph: Graph, component: list[str]) -> str:
    edges = [
        f"  {a} -> {b} (line {', '.join(map(str, graph[a][b]))})"
        for a in component
        for b in sorted(graph[a])
        if b in component
    ]
    return "\n".join([" ".join(component), *edges])


def test_the_core_has_no_import_cycle() -> None:
    graph = import_graph(CORE)
    assert graph.get("fsmirror.mirror"), "the reader found the core's imports"
    found = cycles(graph)
    assert not found, "import cycles in fsmirror:\n" + "\n".join(_describe(graph, c) for c in found)


def test_the_reader_sees_lazy_imports_and_skips_type_checking_ones(tmp_path: Path) -> None:
    """The check above cannot pass by missing imports: a function-local import closes a cycle,
    one under ``if TYPE_CHECKING:`` does not, and ``from . import name`` of a package attribute
    is an import of the package's ``__init__``."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .a import A\nVERSION = '1'\n")
    (pkg / "a.py").write_text("from .b import B\n\nclass A:\n    pass\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from .a import A\n\n"
        "class B:\n    def version(self) -> str:\n        from . import VERSION\n\n        return VERSION\n"
    )
    graph = import_graph(pkg)
    assert graph == {"pkg": {"pkg.a": [1]}, "pkg.a": {"pkg.b": [1]}, "pkg.b": {"pkg": [8]}}
    assert cycles(graph) == [["pkg", "pkg.a", "pkg.b"]]


# -- FSMirror's private members, reached from outside mirror.py ------------------------------------

# A receiver that is an FSMirror by the project's naming: fm, self._fm, mirror, get_mirror(),
# task.fsmirror(), block.fsmirror() ...
_RECEIVER = re.compile(r"(^|\.)_?(fm|mirror|fsmirror|get_mirror)(\(\))?$")


def private_uses() -> list[str]:
    """``path:line: receiver._member`` for each access to a private member of an FSMirror."""
    uses = []
    files = [p for p in sorted(CORE.rglob("*.py")) if p != CORE / "mirror.py"]
    files += sorted(ADAPTERS.rglob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and _RECEIVER.search(ast.unparse(node.value))
            ):
                uses.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return sorted(set(uses))


def test_nothing_outside_mirror_py_uses_fsmirror_private_members() -> None:
    uses = private_uses()
    assert not uses, "private FSMirror members used outside mirror.py:\n" + "\n".join(uses)


def test_the_adapters_use_no_fsmirror_private_member() -> None:
    """The adapters stay on the public toolkit (fm.resolver, fm.store, fsmirror.integration)."""
    uses = [u for u in private_uses() if u.startswith("integrations")]
    assert not uses, "private FSMirror members used by adapters:\n" + "\n".join(uses)
