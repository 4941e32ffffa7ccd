"""fsmirror registered as an Airflow provider: Airflow's own CLI lists it and knows its ``[fsmirror]`` options.

Each command runs as a user runs it: the ``airflow`` executable of this env, in a fresh
``AIRFLOW_HOME`` (no airflow.cfg, no database: both commands need neither).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

AIRFLOW = Path(sys.executable).with_name("airflow")


def _airflow(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__FSMIRROR__", "FSMIRROR_"))}
    clean.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}, **(env or {}))
    return subprocess.run(
        [str(AIRFLOW), *args], capture_output=True, text=True, env=clean, cwd=home, timeout=120
    )


def test_providers_list_names_fsmirror_with_its_version(tmp_path: Path) -> None:
    done = _airflow(tmp_path, "providers", "list", "--output", "json")
    assert done.returncode == 0, done.stderr
    rows = {row["package_name"]: row for row in json.loads(done.stdout)}
    assert rows["fsmirror"]["version"] == version("fsmirror")
    assert "XCom backend" in rows["fsmirror"]["description"]


def test_config_reference_has_the_fsmirror_section(tmp_path: Path) -> None:
    """``get-value`` knows the option (on a bare Airflow it fails: no such section); the reference
    (``config list --defaults``) shows each option with its example and its variable."""
    got = _airflow(tmp_path, "config", "get-value", "fsmirror", "xcom_threshold")
    assert got.returncode == 0, got.stderr
    assert got.stdout == "\n"  # the default: empty, i.e. unset (then $FSMIRROR_XCOM_THRESHOLD, else 0)

    ref = _airflow(tmp_path, "config", "list", "--defaults", "--section", "fsmirror")
    assert ref.returncode == 0, ref.stderr
    text = ref.stdout
    assert text.lstrip().startswith("[fsmirror]")
    for option, example in (
        ("config_path", "/opt/airflow/fsmirror.yml"),
        ("mirror", "aipipeline"),
        ("xcom_threshold", "1024"),
    ):
        assert f"# Example: {option} = {example}\n" in text
        assert f"# Variable: AIRFLOW__FSMIRROR__{option.upper()}\n" in text
        assert f"# {option} = \n" in text


FALLBACKS = """
import os
from fsmirror_airflow._locate import setting

for env in (
    {},
    {"FSMIRROR_XCOM_THRESHOLD": "7", "FSMIRROR_MIRROR": "m"},
    {"FSMIRROR_XCOM_THRESHOLD": "7", "AIRFLOW__FSMIRROR__XCOM_THRESHOLD": "9"},
):
    os.environ.update(env)
    print(setting("config_path", "FSMIRROR_CONFIG_PATH"), setting("mirror", "FSMIRROR_MIRROR"),
          setting("xcom_threshold", "FSMIRROR_XCOM_THRESHOLD"))
"""


def test_registered_defaults_leave_the_fallbacks_alone(tmp_path: Path) -> None:
    """The registered defaults mean "unset": the ``$FSMIRROR_*`` fallbacks still apply (a ``0`` default
    for ``xcom_threshold`` would reach ``conf.get`` first and hide ``$FSMIRROR_XCOM_THRESHOLD``), and
    ``AIRFLOW__FSMIRROR__*`` still wins over them. One process: Airflow reads the environment per get."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__FSMIRROR__", "FSMIRROR_"))}
    clean["AIRFLOW_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", FALLBACKS],
        capture_output=True,
        text=True,
        env=clean,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["None None None", "None m 7", "None m 9"]
