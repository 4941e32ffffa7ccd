"""Code addresses: where a piece of code lives, as file path parts plus a qualified name.

Everything the path grammar needs is taken from the object itself
(``__code__.co_filename``, ``__qualname__``) rather than from ``sys.modules``,
so a DAG file run as ``__main__`` or a module loaded from a path resolves the
same as an imported one. A string ``"pkg/mod.py::Name"`` resolves without
importing anything.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import ResolveError

__all__ = ["CodeAddress", "address_of", "parse_address", "split_recorded"]

# A Python qualified name, or a task id an orchestrator gives a piece of code that has no Python
# name of its own (Airflow's ``load-orders``: letters, digits, ``_`` and ``-``), dotted for methods.
_QUALNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$")


@dataclass(frozen=True)
class CodeAddress:
    """A code location: the file's path parts (as found) and the object's qualified name.

    ``definition`` names the code in that file whose source versions the artifact, when it is
    not ``qualname`` itself: an orchestrator names a task by its id (``square__1``,
    ``group.extract``, a BashOperator's ``export``) while its code is ``orders.square`` (a
    function nested in ``orders``), an assignment, or ``<module>``. It goes into the manifest
    (``code.definition``) so ``fsmirror stale`` fingerprints the same code again; it is not
    part of the address (equality, hashing, ``str``) or of any path.
    """

    file_parts: tuple[str, ...]
    qualname: str
    definition: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return "/".join(self.file_parts) + "::" + self.qualname


def parse_address(text: str) -> CodeAddress:
    """Parse ``"pkg/mod.py::Name"`` (``Name`` may be dotted: ``Class.method``)."""
    if not isinstance(text, str) or "::" not in text:
        raise ResolveError(
            f"code address {text!r} is not of the form 'path/to/module.py::Name', "
            "e.g. 'project/etl/my_etl_task.py::LiftDataTask'",
            kind="malformed-address",
        )
    path, _, name = text.rpartition("::")
    if not _QUALNAME.match(name):
        raise ResolveError(
            f"code address {text!r}: {name!r} is not a Python qualified name or a task id "
            "(letters, digits, '_', '-', dotted like 'Class.method')",
            kind="malformed-address",
        )
    parts = tuple(p for p in path.replace("\\", "/").split("/") if p)
    if not parts:
        raise ResolveError(f"code address {text!r} has no module path before '::'", kind="malformed-address")
    return CodeAddress(parts, name)


def split_recorded(address: str) -> tuple[str, str]:
    """``(module path, name)`` of an address as manifests record it: ``pkg/mod.py::Name`` ->
    ``("pkg/mod", "Name")``. Lenient, for reading what a store holds: never raises."""
    path, _, name = address.rpartition("::")
    return (path[:-3] if path.endswith(".py") else path), name


def _file_of(obj: Any) -> str | None:
    code = getattr(obj, "__code__", None)
    if code is not None:
        return code.co_filename  # type: ignore[no-any-return]
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    if file:
        return file  # type: ignore[no-any-return]
    try:
        return inspect.getfile(obj)
    except (TypeError, OSError):
        return None


def address_of(obj: Any) -> CodeAddress:
    """The code address of a function, class, instance, method or address string.

    An instance resolves to its class; a bound method to ``Class.method``; a
    ``functools.partial`` or a ``functools.wraps`` wrapper to the function it wraps.
    """
    if isinstance(obj, str):
        return parse_address(obj)
    if isinstance(obj, CodeAddress):
        return obj
    if isinstance(obj, functools.partial):
        return address_of(obj.func)
    target = getattr(obj, "__func__", obj)  # bound or class method -> function
    if inspect.isfunction(target):
        target = inspect.unwrap(target)  # a functools.wraps decorator -> the code it wraps
    if not (inspect.isfunction(target) or inspect.isclass(target)):
        if inspect.isbuiltin(target) or inspect.ismodule(target):
            raise ResolveError(
                f"cannot mirror {obj!r}: it has no Python source file; pass a function, class "
                "or a code address string 'path/module.py::Name'"
            )
        target = type(obj)  # an instance mirrors as its class
    qualname = str(getattr(target, "__qualname__", None) or getattr(target, "__name__", ""))
    if "<lambda>" in qualname:
        raise ResolveError(
            f"cannot mirror lambda {obj!r}: a lambda has no name to put in a path; "
            "define it with 'def' at module level, or pass a code address string"
        )
    if "<locals>" in qualname:
        raise ResolveError(
            f"cannot mirror {qualname!r}: it is defined inside a function, so its name is not "
            "stable; move it to module level, or pass a code address string "
            "'path/module.py::Name'"
        )
    file = _file_of(target)
    if not file or file.startswith("<"):
        raise ResolveError(
            f"cannot mirror {qualname!r}: its code has no file ({file!r}, e.g. a notebook "
            "cell or exec); move it into a module, or pass a code address string"
        )
    parts = tuple(p for p in file.replace("\\", "/").split("/") if p)
    return CodeAddress(parts, qualname)
