"""Code versions: a fingerprint of a callable's normalized source, computed without importing it.

"Was this artifact made by the code in the repository today?" needs a version of
the code that ignores what does not change behaviour (comments, whitespace,
docstrings, formatting) and changes with everything that may (a constant, an
operator, a name, a decorator, a default argument, an annotation). So the
fingerprint hashes the *syntax tree*, not the text:

- the definition named by the code address (``pkg/mod.py::Name``,
  ``Outer.method``, ``dag_fn.task`` for a function nested in a function, a name an
  assignment binds, or ``<module>``: the whole file), found with :mod:`ast`,
  docstrings of every module, class and function in it removed, serialized
  canonically (node types and fields, no line or column numbers, ``None`` and
  empty fields left out so Python versions that add empty fields agree);
- plus the statements around it that bind *or change* a name it uses, transitively,
  scope by scope (Python's scoping: a lambda's or comprehension's variable hides
  nothing outside itself): a constant ``THRESHOLD = 5``, a helper function,
  ``import pandas as pd``, ``CONFIG["f"] = 3``, ``SETTINGS.limit = 3``,
  ``COLUMNS.append("b")``, ``random.seed(1)`` (a method call for its effect on a
  module it uses), ``task = scaled(2)(task)`` (its own name rebound); in an
  enclosing function, the locals and parameters it uses; in a class, the header
  (bases, decorators) and the members it reaches through ``self``/``cls``;
- plus, separately, the fingerprint of every *project* module the callable's
  module imports, transitively (``import x.y``, ``from .z import w``, at any
  depth of the file, resolved against the project root: only files inside it
  count). A module's fingerprint is its whole normalized source.

What it does not see: dynamic imports (``importlib.import_module``,
``__import__``), data and config files the code reads, installed packages and
their versions, the Python version, environment variables, and the rest listed
in docs/provenance.md ("What it does not see"). It reads the file on disk: an
edit made after the running process imported the module is seen although the
process still runs the old code.

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
    "WHOLE_MODULE",
    "CodeVersion",
    "code_version",
    "first_definition",
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


_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (*_DEFS, ast.Lambda, *_COMPS)

#: The definition name meaning "the whole module" (a DAG file's module-level operator, say).
WHOLE_MODULE = "<module>"


def _binds(stmt: ast.stmt, name: str) -> bool:
    """Whether a statement that is not a definition assigns ``name`` (``export = BashOperator(...)``)."""
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t))
    return False


def _find(tree: ast.Module, qualname: str) -> tuple[ast.stmt, list[ast.stmt]] | None:
    """The definition ``Outer.inner`` names and the definitions holding it, outermost first.

    The last definition of a name wins, as when Python runs the module. A name that no
    ``def``/``class`` defines but an assignment binds (``export = BashOperator(...)``, at module
    level or in a function) is that assignment. A name not found inside a *function*
    (``make_sales.eu_sales``: an asset factory's product, named at run time) is that function:
    its whole body makes the thing.
    """
    scope: list[ast.stmt] = list(tree.body)
    found: ast.stmt | None = None
    chain: list[ast.stmt] = []
    names = qualname.split(".")
    for depth, part in enumerate(names):
        outer, found = found, None
        for stmt in _blocks(scope):
            if isinstance(stmt, _DEFS) and stmt.name == part:
                found = stmt
        if found is None and depth == len(names) - 1 and not isinstance(outer, ast.ClassDef):
            for stmt in _blocks(scope):
                if _binds(stmt, part):
                    found = stmt
            if found is not None:
                return (found, chain + ([outer] if outer is not None else []))
        if found is None:
            if isinstance(outer, _FUNCS):
                return (outer, chain)
            return None
        if outer is not None:
            chain.append(outer)
        scope = list(found.body)
    return None if found is None else (found, chain)


def _bound_names(stmt: ast.stmt) -> set[str]:
    """The names a statement binds in the scope it runs in."""
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


def _root(node: ast.AST) -> str | None:
    """The name an expression like ``a.b[c].d(...)`` starts from (``a``), if any."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def _import_key(stmt: ast.stmt) -> str | None:
    """``import:random`` for ``import random`` and ``from random import seed``: one package, one key."""
    if isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
        return "import:" + stmt.module.split(".")[0]
    if isinstance(stmt, ast.Import) and stmt.names:
        return "import:" + stmt.names[0].name.split(".")[0]
    return None


def _touched(stmt: ast.stmt) -> set[str]:
    """The names a statement binds *or may change*: what a definition using them depends on.

    Besides bindings (``X = ...``, ``def X``, ``import X``, a function's ``global X``), a
    statement may change the object a name holds: an item or attribute assigned or deleted
    (``CONFIG["f"] = 3``, ``SETTINGS.limit = 3``, ``del CACHE[k]``), a method called for its
    effect (``COLUMNS.append("b")``, ``random.seed(1)``: the name the call starts from), or a
    name passed to a call whose result is dropped (``random.shuffle(COLUMNS)``). A call whose
    result is bound (``t = PythonOperator(python_callable=extract)``) changes only ``t``.
    """
    names = _bound_names(stmt)
    key = _import_key(stmt)
    if key is not None:
        names.add(key)
    if isinstance(stmt, _FUNCS):
        for n in ast.walk(stmt):  # a function that rebinds a module name: 'global X; X = ...'
            if isinstance(n, ast.Global):
                names.update(n.names)
        return names
    if isinstance(stmt, ast.ClassDef):
        return names
    todo: list[ast.AST] = [stmt]
    while todo:
        n = todo.pop()
        if isinstance(n, _SCOPES):
            continue
        targets: list[ast.expr] = []
        if isinstance(n, (ast.Assign, ast.Delete)):
            targets = list(n.targets)
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [n.target]
        elif isinstance(n, ast.withitem) and n.optional_vars is not None:
            targets = [n.optional_vars]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, (ast.Attribute, ast.Subscript)):
                    r = _root(sub)
                    if r is not None:
                        names.add(r)
        if isinstance(n, ast.Expr):
            value = n.value.value if isinstance(n.value, ast.Await) else n.value
            if isinstance(value, ast.Call):
                if not isinstance(value.func, ast.Name):
                    r = _root(value.func)
                    if r is not None:
                        names.add(r)
                for arg in [*value.args, *(k.value for k in value.keywords)]:
                    r = _root(arg)
                    if r is not None:
                        names.add(r)
            else:  # 't1 >> t2', 'x[0]' kept for an effect
                names.update(s.id for s in ast.walk(value) if isinstance(s, ast.Name))
        todo.extend(ast.iter_child_nodes(n))
    return names


def _params(node: ast.AST) -> set[str]:
    if isinstance(node, (*_FUNCS, ast.Lambda)):
        a = node.args
        every = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
        return {x.arg for x in every if x is not None}
    return set()


def _outer_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a scope-making node that run in the scope around it."""
    parts: list[ast.AST] = []
    if isinstance(node, (*_FUNCS, ast.Lambda)):
        a = node.args
        parts += [d for d in (*a.defaults, *a.kw_defaults) if d is not None]
        if isinstance(node, _FUNCS):
            parts += node.decorator_list
            every = [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]
            parts += [x.annotation for x in every if x is not None and x.annotation is not None]
            if node.returns is not None:
                parts.append(node.returns)
    elif isinstance(node, ast.ClassDef):
        parts += [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
    elif isinstance(node, _COMPS):
        parts.append(node.generators[0].iter)
    return parts


def _inner_parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a scope-making node that run in its own scope."""
    if isinstance(node, (*_FUNCS, ast.ClassDef)):
        return list(node.body)
    if isinstance(node, ast.Lambda):
        return [node.body]
    if isinstance(node, _COMPS):
        first, *rest = node.generators
        elts: list[ast.AST] = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return [*elts, first.target, *first.ifs, *rest]
    return []


def _scan(parts: Iterable[ast.AST]) -> tuple[set[str], set[str], set[str], set[str]]:
    """(names read, names bound, names declared ``global``, names read by nested scopes and
    not bound there) of code running in one scope; nested scopes are analysed on their own."""
    loads: set[str] = set()
    stores: set[str] = set()
    declared: set[str] = set()
    nested: set[str] = set()
    todo = list(parts)
    while todo:
        n = todo.pop()
        if isinstance(n, _SCOPES):
            if isinstance(n, _DEFS):
                stores.add(n.name)
            todo.extend(_outer_parts(n))
            free, glob = _scope_free(n)
            nested |= free
            declared |= glob
            continue
        if isinstance(n, ast.Name):
            (loads if isinstance(n.ctx, ast.Load) else stores).add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            stores.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            declared.update(n.names)
        elif isinstance(n, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and n.name:
            stores.add(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            stores.add(n.rest)
        todo.extend(ast.iter_child_nodes(n))
    return loads, stores, declared, nested


def _scope_free(node: ast.AST) -> tuple[set[str], set[str]]:
    """(free names, ``global`` names) of one scope: what it reads from the scopes around it.

    Python's rules: a name bound anywhere in a function (a parameter, an assignment, a loop or
    ``except`` variable, an import, a nested ``def``) is local to it throughout, and only to it:
    a lambda's or comprehension's parameter shadows nothing outside itself. A class body's
    names are not seen by the methods in it. ``global`` names are the module's.
    """
    loads, stores, declared, nested = _scan(_inner_parts(node))
    if isinstance(node, ast.ClassDef):
        return (loads - (stores - declared)) | nested | declared, declared
    local = (stores | _params(node)) - declared
    return ((loads | nested) - local) | declared, declared


def _used_names(node: ast.AST) -> set[str]:
    """The names ``node`` (a statement or a definition) reads from the scope it runs in.

    A definition's own parameters and locals are not among them, nor a nested lambda's or
    comprehension's variables: a Dagster asset's parameter ``orders`` is its upstream, not the
    module's ``orders`` function, and ``lambda LIMIT: ...`` inside a function hides nothing
    from the rest of it.
    """
    loads, _, declared, nested = _scan([node])
    return loads | nested | declared


@functools.lru_cache(maxsize=4096)
def _stmt_used(stmt: ast.AST) -> frozenset[str]:
    """:func:`_used_names` of a statement, cached per node: parsed trees are cached per file
    version, so fingerprinting many definitions of one file analyses each statement once."""
    return frozenset(_used_names(stmt))


@functools.lru_cache(maxsize=4096)
def _stmt_text(stmt: ast.AST) -> str:
    """:func:`normalized` of a statement, cached per node like :func:`_stmt_used`."""
    return normalized(stmt)


@functools.lru_cache(maxsize=4096)
def _stmt_touched(stmt: ast.stmt) -> frozenset[str]:
    """:func:`_touched` of a statement, cached per node like :func:`_stmt_used`."""
    return frozenset(_touched(stmt))


def _self_attrs(node: ast.AST, names: set[str], ctx: type[ast.expr_context] = ast.Load) -> set[str]:
    """Attributes read (or, with ``ctx=ast.Store``, assigned) on ``self``/``cls``/the class
    itself: the members a method uses (or sets, as ``__init__`` does)."""
    return {
        n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Attribute)
        and isinstance(n.ctx, ctx)
        and isinstance(n.value, ast.Name)
        and n.value.id in names
    }


def _level(units: list[ast.stmt], skip: ast.stmt | None, wanted: set[str], out: list[str]) -> set[str]:
    """Add to ``out`` the statements of one scope that bind or change a wanted name
    (transitively); return every name looked for, for the scope around."""
    touching: dict[str, list[int]] = {}
    groups: dict[str, set[str]] = {}
    for i, stmt in enumerate(units):
        for name in _stmt_touched(stmt):
            touching.setdefault(name, []).append(i)
        key = _import_key(stmt)
        if key is not None:
            groups.setdefault(key, set()).update(_bound_names(stmt))
    used: set[int] = set()
    todo = list(wanted)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(groups.get(name, ()))
        for i in touching.get(name, ()):
            if i not in used and units[i] is not skip:
                used.add(i)
                todo.extend(_stmt_used(units[i]))
                key = _import_key(units[i])
                if key is not None:
                    todo.append(key)
    out.extend(_stmt_text(units[i]) for i in sorted(used))
    return seen


@functools.lru_cache(maxsize=256)
def _members(cls: ast.ClassDef) -> tuple[frozenset[str], ...]:
    """Per member of a class body: the names it binds and the attributes it sets on
    ``self``/``cls``/the class. Cached per node (parsed trees are cached per file version)."""
    via = {"self", "cls", cls.name}
    return tuple(frozenset(_bound_names(m) | _self_attrs(m, via, ast.Store)) for m in cls.body)


def _contains(stmt: ast.stmt, node: ast.AST) -> bool:
    """Whether ``node`` is ``stmt`` or in its ``if``/``try``/``with`` blocks (where :func:`_find` looks)."""
    return any(n is node for n in _blocks([stmt]))


def _self_fp(tree: ast.Module, qualname: str) -> str | None:
    if qualname == WHOLE_MODULE:
        return _digest(normalized(tree))
    got = _find(tree, qualname)
    if got is None:
        return None
    target, chain = got
    parts = [normalized(target)]
    wanted = _used_names(target)
    wanted |= {target.name} if isinstance(target, _DEFS) else _bound_names(target)
    inner: ast.stmt = target
    for container in reversed(chain):
        if isinstance(container, ast.ClassDef):
            # The class header (bases, decorators, metaclass) and the members the definition
            # uses through self/cls/the class (sibling methods, class attributes), transitively.
            header = _outer_parts(container)
            parts += [normalized(h) for h in header]
            for h in header:
                wanted |= _used_names(h)
            via = {"self", "cls", container.name}
            members = container.body
            holder = next((i for i, m in enumerate(members) if _contains(m, inner)), -1)
            provides = _members(container)
            attrs = _self_attrs(inner, via)
            taken: set[int] = set()
            todo = sorted(attrs)
            while todo:
                attr = todo.pop()
                for i, given in enumerate(provides):
                    if attr in given and i != holder and i not in taken:
                        taken.add(i)
                        wanted |= _stmt_used(members[i])
                        more = _self_attrs(members[i], via) - attrs
                        attrs |= more
                        todo.extend(more)
            parts += [_stmt_text(container.body[i]) for i in sorted(taken)]
        elif isinstance(container, _FUNCS):  # its statements the definition uses, its parameters
            skip = next((s for s in container.body if _contains(s, inner)), None)
            seen = _level(list(container.body), skip, wanted, parts)
            if _params(container) & seen:
                parts.append(normalized(container.args))
            _, stores, declared, _ = _scan(list(container.body))
            wanted = seen - ((stores | _params(container)) - declared)
        else:
            return None
        wanted.add(container.name)
        inner = container
    skip = next((s for s in tree.body if _contains(s, inner)), None)
    _level(list(tree.body), skip, wanted, parts)
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


def first_definition(path: str | os.PathLike[str], candidates: Iterable[str]) -> str | None:
    """The first of ``candidates`` (qualnames, :data:`WHOLE_MODULE`) that names code in the file
    at ``path``, so it can be fingerprinted (and found again by ``fsmirror stale``); None when
    none does or the file cannot be read.

    For an adapter whose task is named by an id, not by its code: it lists where the code may
    be, most precise first (``orders.export``, ``export``, ``<module>``).
    """
    for q in candidates:
        if definition_fingerprint(path, q) is not None:
            return q
    return None


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
