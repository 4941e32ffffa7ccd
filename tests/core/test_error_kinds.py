"""Errors carry a machine-readable ``kind``; every decision about an error reads it, never the text.

A message is for people and may be reworded; ``kind`` is set where the error is raised.
The last test reads the package sources and fails on a decision made by matching an
error's text (``"damaged" in str(e)``, a regex over ``str(e)``).
"""

from __future__ import annotations

import ast
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from fsmirror.cli._app import USAGE_KINDS, is_usage_error
from fsmirror.errors import (
    KINDS,
    ArtifactNotFoundError,
    ErrorKind,
    FSMirrorError,
    NotAnArtifactError,
    ResolveError,
    StorageError,
)
from fsmirror.paths.address import parse_address
from fsmirror.services.catalog import parse_target

REPO = Path(__file__).resolve().parents[2]
SOURCES = [REPO / "fsmirror_core" / "fsmirror", REPO / "integrations"]

SEED = """\
storage: {provider: s3, tenant: test.bucket, namespace: MIRROR}
mirrors:
  fsmirror: {root: fsmirror, prefix: MIRROR, output_name: out, output_format: parquet}
"""


def test_kinds_is_the_literal() -> None:
    assert frozenset(get_args(ErrorKind)) == KINDS
    assert {"damaged", "malformed-address", "in-progress", "committed", "missing"} <= KINDS
    assert USAGE_KINDS <= KINDS


def test_kind_defaults_to_none_and_survives_rewording_and_pickling() -> None:
    assert FSMirrorError("x").kind is None and StorageError("x").kind is None
    e = StorageError("cell is damaged", kind="damaged")
    assert (str(e), e.kind, isinstance(e, OSError)) == ("cell is damaged", "damaged", True)
    back = pickle.loads(pickle.dumps(e))
    assert (type(back), str(back), back.kind) == (StorageError, "cell is damaged", "damaged")
    n = NotAnArtifactError("nothing at x", kind="missing", subject="x")
    assert isinstance(n, ArtifactNotFoundError) and n.kind == "missing"


@pytest.mark.parametrize(
    "text",
    ["no-colons", "a.py::not a name", "::Name"],
)
def test_a_malformed_code_address_says_so_by_kind(text: str) -> None:
    with pytest.raises(ResolveError) as info:
        parse_address(text)
    assert info.value.kind == "malformed-address" and is_usage_error(info.value)


@pytest.mark.parametrize("target", ["a/../b", "a.py::"])
def test_a_malformed_code_path_says_so_by_kind(target: str) -> None:
    with pytest.raises(ResolveError) as info:
        parse_target(target)
    assert info.value.kind == "malformed-address" and is_usage_error(info.value)


def test_usage_follows_the_kind_not_the_text() -> None:
    """The same words without the kind are an ordinary failure; other words with it, a usage error."""
    with pytest.raises(ResolveError) as info:
        parse_address("no-colons")
    same_words = ResolveError(str(info.value))
    assert str(same_words) == str(info.value) and not is_usage_error(same_words)
    assert is_usage_error(ResolveError("anything at all", kind="malformed-address"))
    assert not is_usage_error(StorageError("x", kind="malformed-address"))  # only a ResolveError


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fsmirror.cli", *args], capture_output=True, text=True, env=dict(os.environ), timeout=60
    )


def test_cli_exits_2_on_a_malformed_address_and_1_on_a_failure(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text(SEED)
    bad = run("--config", str(cfg), "resolve", "no-colons", "-m", "fsmirror")
    assert bad.returncode == 2 and "is not of the form" in bad.stderr and "--help')" in bad.stderr
    failed = run("--config", str(cfg), "resolve", "elsewhere/x.py::f", "-m", "fsmirror")
    assert failed.returncode == 1 and "outside the mirror's root" in failed.stderr
    assert "--help" not in failed.stderr


# -- no decision reads an error's text ---------------------------------------------------------


def _text_of_error(node: ast.AST, caught: set[str]) -> bool:
    """``str(e)``/``repr(e)``/``e.args`` (or ``e.args[0]``) of a name an ``except`` clause bound."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("str", "repr"):
        return len(node.args) == 1 and isinstance(node.args[0], ast.Name) and node.args[0].id in caught
    if isinstance(node, ast.Subscript):
        node = node.value
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "args"
        and isinstance(node.value, ast.Name)
        and node.value.id in caught
    )


def text_decisions(source: str, filename: str) -> list[str]:
    """Where ``source`` decides by an error's text: ``x in str(e)``, ``str(e) == x``,
    ``str(e).startswith(x)``, ``re.search(p, str(e))`` / ``p.match(str(e))``, for ``e`` bound by
    ``except ... as e``. Building a message from ``str(e)`` is fine and not reported."""
    tree = ast.parse(source, filename)
    caught = {h.name for h in ast.walk(tree) if isinstance(h, ast.ExceptHandler) and h.name}
    found = []
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Compare):
            hit = any(_text_of_error(x, caught) for x in [node.left, *node.comparators])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method = node.func.attr
            if method in ("startswith", "endswith", "find", "index", "count"):
                hit = _text_of_error(node.func.value, caught)
            elif method in ("search", "match", "fullmatch", "findall", "finditer"):
                hit = any(_text_of_error(a, caught) for a in node.args)
        if hit:
            found.append(f"{filename}:{getattr(node, 'lineno', '?')}: {ast.unparse(node)}")
    return found


def test_the_check_catches_what_it_should() -> None:
    bad = """
try:
    pass
except Exception as e:
    if "damaged" not in str(e): raise
    if str(e).startswith("code address"): pass
    if any(p.search(str(e)) for p in PATTERNS): pass
    if re.match("x", str(e)): pass
    if e.args[0] == "x": pass
    raise StorageError(f"{e}") from e
"""
    assert len(text_decisions(bad, "bad.py")) == 5
    fine = """
try:
    pass
except OSError as e:
    raise StorageError(str(e), kind="damaged") from None
    msg = str(e).splitlines()[0]
    if e.kind == "damaged": pass
"""
    assert text_decisions(fine, "fine.py") == []


def test_no_decision_in_the_package_matches_an_error_text() -> None:
    found = []
    for root in SOURCES:
        for path in sorted(root.rglob("*.py")):
            found += text_decisions(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert found == [], "decide by the error's kind (or type, or a provider's error code), not its text:\n" + "\n".join(found)
