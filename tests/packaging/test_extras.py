"""What each ecosystem's users install: ``fsmirror[airflow]`` and ``fsmirror[prefect]``, each in a
fresh virtualenv (Airflow and Prefect cannot share one), from the wheel this checkout builds.

The wheel is built once; each extra gets its own ``uv venv``, installs ``<wheel>[extra]`` as pip
would (uv's cache keeps it to seconds), imports the adapter (which imports the orchestrator the
extra brought) and runs the ``fsmirror`` command the wheel installs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args), capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=600
    )
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(UV, "build", "--wheel", "--out-dir", str(out), str(ROOT), cwd=out)
    (built,) = out.glob("fsmirror-*.whl")
    return built


@pytest.mark.parametrize(
    ("extra", "check"),
    [
        # the plugin module imports airflow: it is there because the extra brought it
        ("airflow", "import fsmirror_airflow.plugin, airflow; print(airflow.__version__)"),
        ("prefect", "import fsmirror_prefect, prefect; print(prefect.__version__)"),
    ],
)
def test_extra_installs_in_a_fresh_venv(wheel: Path, tmp_path: Path, extra: str, check: str) -> None:
    venv = tmp_path / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(UV, "pip", "install", "--quiet", "--python", str(python), f"{wheel}[{extra}]", cwd=tmp_path)

    env = {"AIRFLOW_HOME": str(tmp_path / "airflow"), "PREFECT_HOME": str(tmp_path / "prefect")}
    version = _run(str(python), "-c", check, cwd=tmp_path, env=env).strip()
    assert version[:1].isdigit(), version
    assert version.split(".")[0] == "3"  # Airflow 3 / Prefect 3, as the extras require

    wheel_version = wheel.name.split("-")[1]
    assert (
        _run(str(venv / "bin" / "fsmirror"), "--version", cwd=tmp_path)
        == f"fsmirror, version {wheel_version}\n"
    )
