"""docs/dagster.md's "Set up" ``Definitions`` snippet loads in Dagster's own validator.

tests/dagster/test_dagster_dev.py already runs ``dagster dev`` on examples/dagster (the docs'
"Example"). The "Set up (one line)" snippet is separate text: here it is taken from the page as
written, its ``assets=[...]`` placeholder filled with the example's two assets, and checked with
``dagster definitions validate`` (the command loads the definitions as ``dagster dev`` does).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")


def _setup_snippet() -> str:
    page = (ROOT / "docs" / "dagster.md").read_text()
    section = page.split("### Set up (one line)", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python block under 'Set up (one line)'"
    return match.group(1)


def test_docs_setup_snippet_validates(tmp_path: Path) -> None:
    snippet = _setup_snippet()
    assert "assets=[...]" in snippet and 'FSMirrorIOManager(mirror="aipipeline")' in snippet
    shutil.copytree(ROOT / "examples" / "dagster" / "aipipeline", tmp_path / "aipipeline")
    shutil.copy(ROOT / "examples" / "dagster" / "fsmirror.yml", tmp_path / "fsmirror.yml")
    code = "from aipipeline.etl.assets import order_totals, raw_orders\n" + snippet.replace(
        "assets=[...]", "assets=[raw_orders, order_totals]"
    )
    (tmp_path / "defs.py").write_text(code)
    env = {
        **os.environ,
        "FSMIRROR_CONFIG_PATH": str(tmp_path / "fsmirror.yml"),
        "DAGSTER_HOME": str(tmp_path),
    }
    done = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-f", "defs.py", "-d", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Validation successful for code location defs.py" in out, out
