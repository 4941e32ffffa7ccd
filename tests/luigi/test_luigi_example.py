"""examples/luigi runs as its README says: Luigi's own CLI, luigi.cfg pointing at fsmirror.yml."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "luigi"


def _luigi(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FSMIRROR_", "LUIGI_"))}
    return subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "project.etl.my_etl_task", *args, "--local-scheduler"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_example_pipeline_runs_from_its_directory(tmp_path: Path) -> None:
    work = tmp_path / "luigi-example"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("store", "__pycache__"))

    first = _luigi(work, "SummarizeTask", "--day", "2026-11-25")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "2 ran successfully" in first.stderr

    base = work / "store" / "project" / "etl" / "my_etl_task"
    lifts = sorted(p.relative_to(base).as_posix() for p in base.glob("*/LiftDataTask/*/*"))
    assert lifts == [  # run slot 'luigi', the day (the task's one parameter) as the instance
        "luigi/LiftDataTask/2026-11-25/_out.manifest.json",
        "luigi/LiftDataTask/2026-11-25/out.parquet",
    ]
    summary = base / "luigi" / "SummarizeTask" / "2026-11-25" / "out.json"
    assert json.loads(summary.read_text()) == {
        "day": "2026-11-25",
        "events": sum((h * 37) % 11 for h in range(24)),
    }
    manifest = json.loads(summary.with_name("_out.manifest.json").read_text())
    assert manifest["orchestrator"]["params"] == {"day": "2026-11-25"}
    assert manifest["run"]["source"] == "luigi"

    again = _luigi(work, "SummarizeTask", "--day", "2026-11-25")
    assert again.returncode == 0 and "complete ones were encountered" in again.stderr
    assert "ran successfully" not in again.stderr
