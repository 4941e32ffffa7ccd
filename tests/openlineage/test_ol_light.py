"""Off or absent, OpenLineage costs nothing: no import of the client, a clear error when asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WRITE = """
import sys, tempfile
import fsmirror
d = tempfile.mkdtemp()
fm = fsmirror.FSMirror({{"storage": {{"provider": "local", "tenant": d}},
                        "mirrors": {{"m": {{"root": "project", "output_format": "json"}}}}{extra}}})
with fm.run("r1", key="k"):
    fm.write("project/etl/my_etl_task.py::LiftDataTask", {{"a": 1}})
print(fm.read("project/etl/my_etl_task.py::LiftDataTask", run_id="r1"))
print(sorted(m for m in sys.modules if m == "openlineage" or m.startswith(("openlineage.", "fsmirror.lineage.openlineage"))))
"""

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "openlineage" or name.startswith("openlineage."):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
"""


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FSMIRROR_", "OPENLINEAGE"))}
    clean["PYTHONPATH"] = os.pathsep.join([str(ROOT / "fsmirror_core"), clean.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**clean, **env}, timeout=60
    )


@pytest.mark.parametrize(
    ("extra", "env"),
    [("", {}), (', "openlineage": {"enabled": False}', {}), (', "openlineage": {"enabled": True}', {"FSMIRROR_OPENLINEAGE": "0"})],
)
def test_disabled_imports_nothing_of_openlineage(extra: str, env: dict[str, str]) -> None:
    p = run(WRITE.format(extra=extra), **env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["{'a': 1}", "[]"]


def test_enabled_imports_the_client_and_emits(tmp_path: Path) -> None:
    events = tmp_path / "ev.jsonl"
    conf = tmp_path / "openlineage.yml"
    conf.write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    p = run(WRITE.format(extra=', "openlineage": {"enabled": True}'), OPENLINEAGE_CONFIG=str(conf))
    assert p.returncode == 0, p.stderr
    assert "'openlineage.client'" in p.stdout.splitlines()[1]
    assert len(events.read_text().splitlines()) == 2  # START, COMPLETE


def test_enabled_without_the_client_says_which_extra_to_install() -> None:
    p = run(BLOCK + WRITE.format(extra=', "openlineage": {"enabled": True}'))
    assert p.returncode == 1
    assert (
        "fsmirror.errors.ConfigError: OpenLineage is enabled (config 'openlineage.enabled' or "
        "$FSMIRROR_OPENLINEAGE) but openlineage-python is not installed: pip install 'fsmirror[openlineage]'"
    ) in p.stderr
