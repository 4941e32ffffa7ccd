"""Code versions: a fingerprint of a callable's normalized source, computed without importing it.

"Was this artifact made by the code in the repository today?" needs a version of
the code that ignores what does not change behaviour (comments, whitespace,
docstrings, formatting) and changes with everything that may (a constant, an
operator, a name, a decorator, a default argument, an annotation). So the
fingerprint hashes the *syntax tree*, not the text:

- the definition named by the code address (``pkg/mod.py::Name`` or
  ``Outer.method``), found with :mod:`ast`, docstrings of every module, class
  and function in it removed, serialized canonically (node types and fields,
  no line or column numbers, ``None`` and empty fields left out so Python
  versions that add empty fields agree);
- plus the module-level statements it refers to by name, transitively (a
  constant ``THRESHOLD = 5``, a helper function, ``import pandas as pd``): a
  change there changes what the callable does;
- plus, separately, the fingerprint of every *project* module the callable's
  module imports, transitively (``import x.y``, ``from .z import w``, at any
  depth of the file, resolved against the project root: only files inside it
  count). A module's fingerprint is its whole normalized source.

What it does not see: dynamic imports (``importlib.import_module``,
``__import__``), data and config files the code reads, installed packages and
their versions, the Python version, environment variables. It reads the file
on disk: an edit made after the running process imported the module is seen
although the process still runs the old code.

Pure functions over files; parsing and hashing are cached per (file, mtime,
size), so a task writing many artifacts pays for each file once.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "SCHEME",
    "CodeVersion",
    "code_version",
    "definition_fingerprint",
    "module_fingerprint",
    "project_imports",
    "project_root",
    "root_directory",
    "normalized",
]

#: Part of every hash: a change of the normalization changes every fingerprint, never silently mixes.
SCHEME = "fsmirror-code-1"
_DIGITS = 16  # hex digits kept: 64 bits, ample against accidental collisions of one project's versions

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_HAS_DOCSTRING = (*_DEFS, ast.Module)
_SKIP_FIELDS = frozenset({"type_comment", "kind", "type_ignores"})


@dataclass(frozen=True)
class CodeVersion:
    """The code version of one callable, as recorded in a manifest's ``code``.

    ``fingerprint`` combines ``fingerprint_self`` (the definition and what it uses in its
    module) and ``imports`` (project module path -> module fingerprint). It is None, with
    ``problem`` saying why, when the source cannot be found or parsed.
    """

    fingerprint: str | None
    fingerprint_self: str | None
    imports: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def _digest(*parts: str) -> str:
    h = hashlib.sha256(SCHEME.encode())
    for p in parts:
        h.update(b"\0")
        h.update(p.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:_DIGITS]


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _canon(node: object, out: list[str]) -> None:
    """Append the canonical form of ``node``: type, then non-empty fields; no positions."""
    if isinstance(node, ast.AST):
        out.append(type(node).__name__)
        out.append("(")
        for name, value in ast.iter_fields(node):
            if name in _SKIP_FIELDS or value is None or value == []:
                continue
            if name == "body" and isinstance(node, _HAS_DOCSTRING):
                value = _strip_docstring(value)
            out.append(name)
            out.append("=")
            _canon(value, out)
            out.append(",")
        out.append(")")
    elif isinstance(node, list):
        out.append("[")
        for item in node:
            _canon(item, out)
            out.append(",")
        out.append("]")
    else:
        out.append(repr(node))


def normalized(node: ast.AST) -> str:
    """The canonical text of a syntax tree: the same for any two sources that differ only in
    comments, whitespace, line breaks, parentheses or docstrings.

    >>> import ast
    >>> normalized(ast.parse("x = 1  # one")) == normalized(ast.parse('"doc"\\nx = (1)'))
    True
    """
    out: list[str] = []
    _canon(node, out)
    return "".join(out)


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=512)
def _parse(path: str, mtime_ns: int, size: int) -> ast.Module | None:
    try:
        with open(path, "rb") as f:
            return ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None


def _tree(path: str) -> ast.Module | None:
    key = _stat_key(path)
    return None if key is None else _parse(path, *key)


@functools.lru_cache(maxsize=512)
def _module_fp(path: str, mtime_ns: int, size: int) -> str | None:
    tree = _parse(path, mtime_ns, size)
    if tree is None:
        return None
    try:
        return _digest(normalized(tree))
    except RecursionError:
        return None


def module_fingerprint(path: str | os.PathLike[str]) -> str | None:
    """The fingerprint of a whole module's normalized source; None when it cannot be read or parsed."""
    p = os.fspath(path)
    key = _stat_key(p)
    return None if key is None else _module_fp(p, *key)


def _blocks(body: Iterable[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a body, looking into ``if``/``try``/``with`` blocks (``if TYPE_CHECKING:`` defs)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.Try, ast.With, ast.AsyncWith)):
            inner: list[ast.stmt] = list(stmt.body)
            if isinstance(stmt, (ast.If, ast.Try)):
                inner += stmt.orelse
            if isinstance(stmt, ast.Try):
                inner += stmt.finalbody
                for handler in stmt.handlers:
                    inner += handler.body
            yield from _blocks(inner)


def _find(tree: ast.Module, qualname: str) -> ast.stmt | None:
    """The definition ``Outer.inner`` names; the last one wins, as when Python runs the module.

    A name not found inside a *function* (``make_sales.eu_sales``: an asset factory's
    product, named at run time) is that function: its whole body makes the thing.
    """
    scope: list[ast.stmt] = list(tree.body)
    found: ast.stmt | None = None
    for part in qualname.split("."):
        outer, found = found, None
        for stmt in _blocks(scope):
            if isinstance(stmt, _DEFS) and stmt.name == part:
                found = stmt
        if found is None:
            return outer if isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        scope = list(found.body)  # type: ignore[attr-defined]
    return found


def _bound_names(stmt: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds."""
    names: set[str] = set()
    if isinstance(stmt, _DEFS):
        names.add(stmt.name)
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            names.add((alias.asname or alias.name).split(".")[0])
    else:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, _DEFS):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _used_names(node: ast.AST) -> set[str]:
    """The names ``node`` reads that it does not bind itself: what it takes from its module.

    Parameters, assignments, loop and comprehension variables, nested definitions and imports
    inside are local (Python makes a name assigned anywhere in a function local throughout
    it); ``global`` names are not. A Dagster asset's parameter ``orders`` is its upstream,
    not the module's ``orders`` function. Approximate in one direction only: a nested scope's
    local shadows the name for the whole definition.
    """
    loads: set[str] = set()
    local: set[str] = set()
    declared: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (loads if isinstance(n.ctx, ast.Load) else local).add(n.id)
        elif isinstance(n, ast.arg):
            local.add(n.arg)
        elif isinstance(n, _DEFS) and n is not node:
            local.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)) and n is not node:
            local.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            declared.update(n.names)
    return loads - (local - declared)


def _self_fp(tree: ast.Module, qualname: str) -> str | None:
    target = _find(tree, qualname)
    if target is None:
        return None
    binders: dict[str, list[int]] = {}
    top = list(tree.body)
    for i, stmt in enumerate(top):
        for name in _bound_names(stmt):
            binders.setdefault(name, []).append(i)
    own = {i for i, s in enumerate(top) if s is target}  # a top-level target is not added twice
    used: set[int] = set(own)
    todo = list(_used_names(target))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for i in binders.get(name, ()):
            if i not in used:
                used.add(i)
                todo.extend(_used_names(top[i]))
    parts = [normalized(target)] + [normalized(top[i]) for i in sorted(used - own)]
    return _digest(*parts)


@functools.lru_cache(maxsize=1024)
def _self_fp_cached(path: str, mtime_ns: int, size: int, qualname: str) -> str | None:
    tree = _parse(path, mtime_ns, size)
    if tree is None:
        return None
    try:
        return _self_fp(tree, qualname)
    except RecursionError:
        return None


def definition_fingerprint(path: str | os.PathLike[str], qualname: str) -> str | None:
    """The fingerprint of the definition ``qualname`` in the file at ``path`` and of the
    module-level statements it refers to (transitively); None when the file or the name is missing.
    """
    p = os.fspath(path)
    key = _stat_key(p)
    return None if key is None else _self_fp_cached(p, *key, qualname)


def project_root(source_file: str, module: str) -> str:
    """The project root directory of a source file whose module path under the root is ``module``.

    ``/src/project/etl/lift.py`` with module ``project/etl/lift`` -> ``/src/project``.
    """
    root = os.path.dirname(os.path.abspath(source_file))
    for _ in range(len(module.split("/")) - 2):
        root = os.path.dirname(root)
    return root


def root_directory(source_file: str | os.PathLike[str], root_name: str | None = None) -> str:
    """The project root of a source file when no mirror says it.

    The last ancestor directory named ``root_name`` (as a mirror's ``root`` splits paths);
    without one, the outermost package directory (walking up while ``__init__.py`` is
    there); outside any package, the file's own directory.
    """
    here = os.path.dirname(os.path.abspath(os.fspath(source_file)))
    if root_name is not None:
        d = here
        while True:
            if os.path.basename(d) == root_name:
                return d
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        raise ValueError(f"{os.fspath(source_file)!r} is not under a directory named {root_name!r}")
    d = here
    while os.path.isfile(os.path.join(d, "__init__.py")) and os.path.dirname(d) != d:
        if not os.path.isfile(os.path.join(os.path.dirname(d), "__init__.py")):
            return d
        d = os.path.dirname(d)
    return d


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _module_files(base: str, parts: list[str]) -> list[str]:
    """The files importing ``a.b.c`` from ``base`` runs: each package's ``__init__.py`` and the module."""
    files: list[str] = []
    d = base
    for i, part in enumerate(parts):
        d = os.path.join(d, part)
        last = i == len(parts) - 1
        init = os.path.join(d, "__init__.py")
        if last and os.path.isfile(d + ".py"):
            files.append(d + ".py")
        elif os.path.isfile(init):
            files.append(init)
        elif not os.path.isdir(d):  # not in the project (an installed package, a name)
            break
        # else: a namespace package (no __init__.py), nothing to fingerprint at this level
    return files


@functools.lru_cache(maxsize=512)
def _direct_imports(path: str, mtime_ns: int, size: int, root: str) -> tuple[str, ...]:
    tree = _parse(path, mtime_ns, size)
    if tree is None:
        return ()
    here = os.path.dirname(path)
    bases = (root, os.path.dirname(root))  # 'import etl.x' (root on sys.path) and 'import project.etl.x'
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                for base in bases:
                    found += _module_files(base, alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            mod = node.module.split(".") if node.module else []
            if node.level:
                base = here
                for _ in range(node.level - 1):
                    base = os.path.dirname(base)
                candidates = [base]
            else:
                candidates = list(bases)
            for base in candidates:
                pkg = _module_files(base, mod) if mod else []
                found += pkg
                pkg_dir = os.path.join(base, *mod)
                if os.path.isdir(pkg_dir):  # a package (namespace or not): its names may be submodules
                    for alias in node.names:  # 'from pkg import submodule'
                        if alias.name != "*":
                            sub = os.path.join(pkg_dir, alias.name)
                            for cand in (sub + ".py", os.path.join(sub, "__init__.py")):
                                if os.path.isfile(cand):
                                    found.append(cand)
                                    break
    out: dict[str, None] = {}
    for f in found:
        real = os.path.realpath(f)
        if _inside(real, root) and real != path:
            out[real] = None
    return tuple(out)


def project_imports(source_file: str | os.PathLike[str], root: str | os.PathLike[str]) -> dict[str, str]:
    """Fingerprints of the project modules ``source_file`` imports, transitively.

    Keys are module paths relative to the root's parent (``project/etl/helpers.py``, as code
    addresses spell them); only files inside ``root`` count, so installed packages never do.
    A module that cannot be parsed maps to ``"unparsable"``.
    """
    real_root = os.path.realpath(os.fspath(root))
    start = os.path.realpath(os.fspath(source_file))
    parent = os.path.dirname(real_root)
    seen = {start}
    todo = [start]
    result: dict[str, str] = {}
    while todo:
        path = todo.pop()
        key = _stat_key(path)
        if key is None:
            continue
        for dep in _direct_imports(path, *key, real_root):
            if dep in seen:
                continue
            seen.add(dep)
            todo.append(dep)
            rel = os.path.relpath(dep, parent).replace(os.sep, "/")
            result[rel] = module_fingerprint(dep) or "unparsable"
    return dict(sorted(result.items()))


# (file, qualname, root) -> (the version, every file it was computed from with its stat key):
# a repeated call re-stats those files (a few microseconds each) instead of walking imports again.
# Not seen until one of those files changes: a project module created where an import statement
# named a file that did not exist before (the code could not have imported it then either).
_VERSIONS: dict[
    tuple[str, str, str | None], tuple[CodeVersion, tuple[tuple[str, tuple[int, int] | None], ...]]
] = {}


def code_version(source_file: str | os.PathLike[str] | None, qualname: str, root: str | None) -> CodeVersion:
    """The code version of ``qualname`` defined in ``source_file``, in the project under ``root``.

    Never raises on bad source: a missing file or name gives ``fingerprint=None`` and a ``problem``
    (a write must not fail because its code's file moved).
    """
    if source_file is None:
        return CodeVersion(None, None, problem="source missing")
    path = os.fspath(source_file)
    key = (path, qualname, root)
    hit = _VERSIONS.get(key)
    if hit is not None and all(_stat_key(f) == k for f, k in hit[1]):
        return hit[0]
    version = _compute(path, qualname, root)
    files = [path] + ([] if root is None else [_imported_file(m, root) for m in version.imports])
    _VERSIONS[key] = (version, tuple((f, _stat_key(f)) for f in files))
    if len(_VERSIONS) > 4096:
        _VERSIONS.pop(next(iter(_VERSIONS)))
    return version


def _imported_file(module: str, root: str) -> str:
    return os.path.join(os.path.dirname(os.path.realpath(root)), *module.split("/"))


def _compute(path: str, qualname: str, root: str | None) -> CodeVersion:
    if _stat_key(path) is None:
        return CodeVersion(None, None, problem="source missing")
    if _tree(path) is None:
        return CodeVersion(None, None, problem="source does not parse")
    own = definition_fingerprint(path, qualname)
    if own is None:
        return CodeVersion(None, None, problem=f"no definition of {qualname} in the source")
    imports = project_imports(path, root) if root is not None else {}
    combined = _digest(own, *(f"{m} {fp}" for m, fp in imports.items()))
    return CodeVersion(combined, own, imports)
