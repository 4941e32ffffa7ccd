"""No credential from a git remote reaches an OpenLineage event or a manifest (issue 22).

A CI checkout's ``origin`` often carries its token (``https://user:<token>@github.com/...``);
the ``sourceCodeLocation`` facet sends the repository URL to a lineage server.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ol_support import Capture, validate

from fsmirror import FSMirror

TOKEN = "ghp_secret0123456789abcdef"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize(
    ("origin", "sent"),
    [
        (f"https://user:{TOKEN}@github.com/o/r.git", "https://github.com/o/r.git"),
        (f"https://{TOKEN}@github.com/o/r.git", "https://github.com/o/r.git"),
        (f"https://github.com/o/r.git?access_token={TOKEN}&ref=main", "https://github.com/o/r.git?ref=main"),
    ],
)
def test_the_origin_url_is_sent_without_its_credentials(
    capture: Capture, project: Path, tmp_path: Path, origin: str, sent: str
) -> None:
    _git(project, "init", "-q")
    _git(project, "remote", "add", "origin", origin)
    _git(project, "add", ".")
    _git(project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    fm = FSMirror(
        {
            "storage": {"provider": "local", "tenant": str(tmp_path / "store")},
            "mirrors": {"m": {"root": "project", "output_format": "json"}},
        }
    )
    address = f"{project}/project/etl/my_etl_task.py::Extract"
    with fm.run("r1", key="test:r1:extract"):
        fm.write(address, {"rows": [1, 2, 3]})
    kinds = [e["eventType"] for e in capture.events]
    assert kinds == ["START", "COMPLETE"], kinds
    for event in capture.events:
        assert TOKEN not in json.dumps(event), event["eventType"]
        validate(event)
    located = capture.events[-1]["job"]["facets"]["sourceCodeLocation"]
    assert (located["url"], located["repoUrl"], located["path"]) == (sent, sent, "project/etl/my_etl_task.py")
    # nor anything fsmirror stored: the manifest, the pointer, the data
    stored = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert any(p.name == "_out.manifest.json" for p in stored)
    for p in stored:
        assert TOKEN.encode() not in p.read_bytes(), p


def test_public_url_keeps_what_names_the_repository() -> None:
    from fsmirror.model.urls import public_url

    assert public_url("git@github.com:o/r.git") == "git@github.com:o/r.git"
    assert public_url("ssh://git@host/o/r.git") == "ssh://git@host/o/r.git"
    assert public_url("ssh://git:pw@host/o/r.git") == "ssh://host/o/r.git"
    assert public_url("https://host/r?X-Amz-Signature=1&sig=2&api_key=3&a=b") == "https://host/r?a=b"
    assert public_url("file:///srv/repo") == "file:///srv/repo"
    assert public_url("http://[::1") is None  # not a URL: nothing sent rather than a secret
