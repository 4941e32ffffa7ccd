"""The provider table (``fsmirror.providers``): golden values, and that it is the only one.

Every fact about a storage provider (scheme, aliases, fsspec protocol, driver, pip extra,
capabilities) is in one read-only table; the old names (``layout.SCHEMES``,
``backends.PROTOCOLS``) are derived from it, and no other module spells a table of providers.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
import tomllib

from fsmirror import layout, providers
from fsmirror.paths.providers import PROVIDERS, Provider, ProviderInfo, by_scheme, provider

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "fsmirror_core" / "fsmirror"

# name: (scheme, protocol, aliases, driver, extra, backend, object_store, bucket, conditional_writes,
#        in_process, named_by_account)
GOLDEN = {
    "local": ("", "file", (), None, None, "local", False, False, False, False, False),
    "memory": ("memory", "memory", (), None, None, "fsspec", True, False, False, True, False),
    "s3": ("s3", "s3", ("s3a",), "s3fs", "s3", "s3", True, True, True, False, False),
    "gcs": ("gs", "gcs", ("gcs",), "gcsfs", "gcs", "fsspec", True, True, False, False, False),
    "blob": ("az", "az", ("abfs", "abfss", "adl"), "adlfs", "azure", "fsspec", True, True, False, False, True),
}


def test_golden_table() -> None:
    got = {name: dataclasses.astuple(p)[1:] for name, p in PROVIDERS.items()}
    assert got == GOLDEN
    assert all(name == p.name for name, p in PROVIDERS.items())


def test_the_literal_names_the_table() -> None:
    assert get_args(Provider) == tuple(PROVIDERS)


def test_uri_prefixes_and_install_hints() -> None:
    assert {n: p.uri_prefix for n, p in PROVIDERS.items()} == {
        "local": "",
        "memory": "memory://",
        "s3": "s3://",
        "gcs": "gs://",
        "blob": "az://",
    }
    assert provider("s3").install_hint == "pip install 'fsmirror[s3]'"
    assert provider("gcs").install_hint == "pip install 'fsmirror[gcs]'"
    assert provider("blob").install_hint == "pip install 'fsmirror[azure]'"
    assert provider("memory").install_hint == "pip install fsmirror"


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        PROVIDERS["ftp"] = PROVIDERS["s3"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        provider("s3").scheme = "s4"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("scheme", "name"),
    [
        ("s3", "s3"),
        ("s3a", "s3"),
        ("S3", "s3"),
        ("gs", "gcs"),
        ("gcs", "gcs"),
        ("az", "blob"),
        ("abfs", "blob"),
        ("abfss", "blob"),
        ("adl", "blob"),
        ("memory", "memory"),
        ("", "local"),
    ],
)
def test_by_scheme(scheme: str, name: str) -> None:
    found = by_scheme(scheme)
    assert found is not None and found.name == name


@pytest.mark.parametrize("scheme", ["file", "http", "ftp", "blob", "azure"])
def test_by_scheme_of_no_store_is_none(scheme: str) -> None:
    assert by_scheme(scheme) is None


def test_unknown_provider_names_the_choices() -> None:
    with pytest.raises(KeyError, match=r"unknown storage provider 'ftp': choose one of local, memory, s3, gcs, blob"):
        provider("ftp")


def test_old_names_are_derived_from_the_table() -> None:
    from fsmirror import backends

    assert dict(layout.SCHEMES) == {n: p.uri_prefix for n, p in PROVIDERS.items()}
    assert dict(backends.PROTOCOLS) == {n: p.protocol for n, p in PROVIDERS.items()}


def test_each_extra_installs_its_driver() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for p in PROVIDERS.values():
        if p.extra is None:
            assert p.driver is None, p
            continue
        assert p.driver is not None
        assert any(req.startswith(p.driver) for req in extras[p.extra]), (p.name, extras[p.extra])


def test_the_module_is_pure() -> None:
    """No fsspec, no I/O library, and nothing from the package but (at most) ``errors``."""
    tree = ast.parse((PACKAGE / "paths" / "providers.py").read_text())
    imported = {
        (node.level, node.module) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {(0, a.name) for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert {m for level, m in imported if level} <= {"errors"}
    assert {m for level, m in imported if not level} <= {"__future__", "types", "collections.abc", "dataclasses", "typing"}
    code = "import sys, json, fsmirror.providers; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    assert not {"fsspec", "pydantic", "yaml"} & loaded


# -- no other table of providers ---------------------------------------------------------------

NAMES = {n for p in PROVIDERS.values() for n in (p.name, p.scheme, *p.aliases, p.protocol) if n} - {"file"}
NAMES |= {p.driver for p in PROVIDERS.values() if p.driver} | {f"{p.scheme}://" for p in PROVIDERS.values() if p.scheme}


def provider_tables(source: str) -> list[str]:
    """Literal collections (dict, tuple, list, set) that name two or more providers, schemes or drivers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        items: list[ast.AST] = []
        if isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None] + list(node.values)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = list(node.elts)
        named = {i.value for i in items if isinstance(i, ast.Constant) and i.value in NAMES}
        if len(named) >= 2:
            found.append(f"{getattr(node, 'lineno', '?')}: {ast.unparse(node)[:100]}")
    return found


def test_the_check_sees_a_table() -> None:
    assert len(provider_tables('X = {"s3": "s3fs", "gcs": "gcsfs"}\nif p in ("s3", "gs"): pass\n')) == 2
    assert provider_tables('if p == "s3": pass\nF = ("pkl", "json")\n') == []


def test_no_other_module_spells_a_provider_table() -> None:
    found = []
    for root in (PACKAGE, REPO / "integrations"):
        for path in sorted(root.rglob("*.py")):
            if path == PACKAGE / "paths" / "providers.py":
                continue
            found += [f"{path.relative_to(REPO)}:{row}" for row in provider_tables(path.read_text(encoding="utf-8"))]
    assert found == [], "read fsmirror.providers instead:\n" + "\n".join(found)


def test_provider_info_is_a_frozen_dataclass() -> None:
    assert dataclasses.is_dataclass(ProviderInfo) and ProviderInfo.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert providers.__all__ == ["Provider", "ProviderInfo", "PROVIDERS", "provider", "by_scheme"]
