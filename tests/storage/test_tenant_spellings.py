"""One local store, spelled two ways: the catalog finds the same artifacts (issue #22, 2).

A manifest records its artifact's URI as the writer spelled the tenant: ``store/...`` from
the writer's working directory. Another reader of the same directory (a relative path from
another directory, a symlink to it) lists it under its own spelling. What an artifact *is*
is where it lies, so ``ls``, ``runs``, ``query``, ``show <hash>`` and ``verify`` through
either spelling find exactly the artifacts, named in the reader's spelling, and ``verify``
reads the bytes where the reader found them (never the recorded string).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from fsmirror import FSMirror
from fsmirror.cli import cli

ADDR = "project/etl/lift.py::Extract"
OTHER = "project/etl/lift.py::Report"
RUNS = ("r1", "r2")


def config(tenant: str, where: Path) -> Path:
    path = where / f"fsmirror-{abs(hash(tenant))}.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "storage": {"provider": "local", "tenant": tenant},
                "mirrors": {"project": {"root": "project", "output_format": "json"}},
            }
        )
    )
    return path


def run(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def ok_json(cfg: Path, *args: str) -> object:
    result = run(cfg, *args, "--json")
    assert result.exit_code == 0, (args, result.output, result.exception)
    return json.loads(result.stdout)


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A store written through the relative tenant ``store`` from ``<tmp>/writer``: data path -> digest."""
    writer = tmp_path / "writer"
    writer.mkdir()
    monkeypatch.chdir(writer)
    fm = FSMirror(config("store", tmp_path))
    digests = {}
    for r in RUNS:
        uri = fm.write(ADDR, {"run": r}, run_id=r)
        assert uri == f"store/project/etl/lift/{r}/Extract/out.json"  # the spelling it records
        digests[f"project/etl/lift/{r}/Extract/out.json"] = uri.manifest.hash.digest
    uri = fm.write(OTHER, [1, 2, 3], run_id="r1")
    digests["project/etl/lift/r1/Report/out.json"] = uri.manifest.hash.digest
    (tmp_path / "link").symlink_to(writer / "store")
    (tmp_path / "elsewhere").mkdir()
    return digests


SPELLINGS = {
    # (the reader's working directory, its tenant)
    "relative-from-another-cwd": ("elsewhere", "../writer/store"),
    "absolute": ("elsewhere", "{tmp}/writer/store"),
    "symlink": ("elsewhere", "{tmp}/link"),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_the_catalog_finds_exactly_the_artifacts_through_another_spelling(
    written: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    cwd, tenant = SPELLINGS[spelling]
    tenant = tenant.format(tmp=tmp_path)
    monkeypatch.chdir(tmp_path / cwd)
    cfg = config(tenant, tmp_path)
    mine = {f"{tenant}/{rel}": digest for rel, digest in written.items()}  # in the reader's spelling

    listed = ok_json(cfg, "ls")
    assert sorted(row["uri"] for row in listed) == sorted(mine)
    assert [(row["segment"], row["latest"]) for row in listed if row["qualname"] == "Extract"] == [
        ("r1", False),
        ("r2", True),
    ]
    runs = ok_json(cfg, "runs", ADDR)
    assert [(row["segment"], row["uri"]) for row in runs] == [
        (r, f"{tenant}/project/etl/lift/{r}/Extract/out.json") for r in RUNS
    ]
    rows = ok_json(cfg, "query", "SELECT uri, digest FROM artifacts ORDER BY uri")
    assert [(row["uri"], row["digest"]) for row in rows] == sorted(mine.items())
    for uri, digest in mine.items():
        shown = run(cfg, "show", digest[:12])
        assert shown.exit_code == 0, shown.output
        assert f"artifact       {uri}\n" in shown.stdout

    checked = run(cfg, "verify")
    assert checked.exit_code == 0, checked.output
    assert "verified 3 artifact(s)" in checked.stdout

    # Tamper with r1's bytes (same size, other content): verify through this spelling sees it.
    victim = tmp_path / "writer" / "store" / "project/etl/lift/r1/Extract/out.json"
    body = victim.read_bytes()
    victim.write_bytes(body.replace(b"r1", b"rX"))
    bad = run(cfg, "verify")
    assert bad.exit_code == 1, bad.output
    assert f"MISMATCH {tenant}/project/etl/lift/r1/Extract/out.json: " in bad.stdout
    assert "1 of 3 artifact(s)" in bad.output
