"""A small store made by real writes, for ``fsmirror ui``: load -> clean -> report, parquet and json.

The project lives in a git repository (its commit recorded in every manifest), so the
artifact page can show the source at that commit. Run ``r1`` writes the whole chain; a
second run, whose id is markup (``<script>alert(1)</script>[bold]``), writes ``load`` again
with a column of the same name: ``clean`` and ``report`` are then stale, and every page has
hostile text to escape.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOSTILE = "<script>alert(1)</script>[bold]"
HOSTILE_COLUMN = "<script>alert(1)</script>"

STEPS = """\
import pandas as pd


def load():
    return pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "rides": [3, 5, 8]})


def clean(df):
    return df[df.rides > 3].reset_index(drop=True)


def report(df):
    return {"rows": int(len(df)), "rides": int(df.rides.sum())}
"""


@dataclass(frozen=True)
class Store:
    root: Path
    config: Path
    commit: str
    uris: dict[str, str]  # "load", "clean", "report" (run r1), "hostile" (load, hostile run)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=ui@test", "-c", "user.name=ui", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def build_store(root: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    from fsmirror import FSMirror

    code = root / "project" / "etl" / "steps.py"
    code.parent.mkdir(parents=True)
    code.write_text(STEPS)
    config = root / "config.yml"
    config.write_text(
        f"storage: {{provider: local, tenant: {str(root / 'store')!r}}}\n"
        "mirrors:\n  project: {root: project, output_name: out, output_format: parquet}\n"
    )
    _git(root, "init", "-q", ".")
    _git(root, "add", "project")
    _git(root, "commit", "-qm", "steps")
    commit = _git(root, "rev-parse", "HEAD")
    spec = importlib.util.spec_from_file_location("ui_steps", code)
    assert spec is not None and spec.loader is not None
    steps = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(steps)
    monkeypatch.chdir(root)  # the manifests' git commit is the repository's
    uris: dict[str, str] = {}
    monkeypatch.setenv("FSMIRROR_RUN_ID", "r1")
    fm = FSMirror(config=str(config), mirror="project")
    with fm.run(key="r1:load", job="project/etl/steps.py::load"):
        uris["load"] = fm.write(steps.load, steps.load())
    with fm.run(key="r1:clean", job="project/etl/steps.py::clean"):
        uris["clean"] = fm.write(steps.clean, steps.clean(fm.read(steps.load)))
    with fm.run(key="r1:report", job="project/etl/steps.py::report"):
        uris["report"] = fm.write(steps.report, steps.report(fm.read(steps.clean)), format="json")
    monkeypatch.setenv("FSMIRROR_RUN_ID", HOSTILE)
    import pandas as pd

    hostile = FSMirror(config=str(config), mirror="project")
    uris["hostile"] = hostile.write(steps.load, pd.DataFrame({HOSTILE_COLUMN: ["[bold]x[/bold]"]}))
    return Store(root, config, commit, uris)


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("FSMIRROR_CONFIG_PATH", "FSMIRROR_MIRROR", "FSMIRROR_RUN_ID"):
            mp.delenv(name, raising=False)
        built = build_store(tmp_path_factory.mktemp("ui"), mp)
    yield built


@pytest.fixture
def fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store of its own, for a test that damages it."""
    for name in ("FSMIRROR_CONFIG_PATH", "FSMIRROR_MIRROR", "FSMIRROR_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    return build_store(tmp_path, monkeypatch)


def screenshot_dirs() -> list[Path]:
    """Where page screenshots go: the tox env's tmp dir (CI keeps it), and docs/img/ (committed, linked
    from the README) only when asked, ``FSMIRROR_UI_DOCS_IMG=1 tox -e ui``: a test run leaves the tree clean."""
    repo = Path(__file__).resolve().parents[2]
    tmp = Path(os.environ.get("FSMIRROR_UI_TMP") or repo / ".tox" / "ui-tmp")
    dirs = [tmp]
    if os.environ.get("FSMIRROR_UI_DOCS_IMG"):
        dirs.append(repo / "docs" / "img")
    return dirs
