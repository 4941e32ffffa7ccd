"""Every snippet in ``docs/airflow.md`` works pasted as written.

Each fenced block is pasted where a user would paste it -- a shell, ``airflow.cfg``,
a DAG file, a Python prompt -- and run; ``test_every_snippet_is_tested`` fails
when a new block appears that no test here pastes. The block that reads a Prefect
artifact needs both orchestrators: ``tests/prefect/test_cross_orchestrator.py``
pastes it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomllib

from conftest import rendered_fields
from fsmirror import FSMirror
from fsmirror.paths.runid import encode_run_id

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "airflow.md"
BIN = Path(sys.executable).parent
MIRRORS = {
    "aipipeline": {"root": "aipipeline", "prefix": "MIRROR", "output_name": "out", "output_format": "parquet"}
}
DAY = dt.datetime(2026, 11, 25, 9, 40, tzinfo=dt.timezone.utc)


def snippets() -> list[tuple[str, str]]:
    """(language, text) of every fenced block, dedented (blocks inside list items are indented)."""
    found = re.findall(r"^( *)```(\w*)\n(.*?)^\1```", DOC.read_text(), flags=re.M | re.S)
    return [(lang, textwrap.dedent(body)) for _, lang, body in found]


def one(lang: str, contains: str) -> str:
    hits = [body for got, body in snippets() if got == lang and contains in body]
    assert len(hits) == 1, f"expected one {lang} block containing {contains!r}, found {len(hits)}"
    return hits[0]


KINDS: dict[str, tuple[str, str]] = {
    "install": ("bash", "pip install"),
    "exports": ("bash", "export AIRFLOW__"),
    "cli": ("bash", "fsmirror runs"),
    "airflow.cfg": ("ini", "[fsmirror]"),
    "example DAG": ("python", "# aipipeline/dags/orders.py"),
    "listing": ("", "/tmp/fsmirror-airflow-example/"),
    "history API": ("python", "dag_partition"),
    "post_execute": ("python", "post_execute=fsmirror_airflow.commit_outputs"),
    "reads Prefect (tests/prefect/test_cross_orchestrator.py)": (
        "python",
        "# aipipeline/dags/report_prefect.py",
    ),
}


def test_every_snippet_is_tested() -> None:
    blocks = snippets()
    for name, (lang, contains) in KINDS.items():
        assert one(lang, contains), name
    untested = [
        (lang, body[:60])
        for lang, body in blocks
        if not any(lang == k_lang and k_text in body for k_lang, k_text in KINDS.values())
    ]
    assert untested == [], "docs/airflow.md has blocks no test pastes"


def test_install_names_real_extras() -> None:
    line = one("bash", "pip install")
    extras = set(re.search(r"fsmirror\[([\w,]+)\]", line).group(1).split(","))  # type: ignore[union-attr]
    extras |= set(re.findall(r",(\w+)", line.split("#", 1)[1]))  # the ones the comment offers
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras == {"airflow", "s3", "gcs", "azure", "pandas"}
    assert extras <= set(declared)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__FSMIRROR__", "FSMIRROR_"))}
    env.pop("AIRFLOW__CORE__XCOM_BACKEND", None)
    return {**env, **extra}


READ_CONF = """
from airflow.configuration import conf
from fsmirror_airflow._locate import setting
from fsmirror_airflow.xcom import _threshold
print(conf.get("core", "xcom_backend"))
print(setting("config_path", "FSMIRROR_CONFIG_PATH"))
print(setting("mirror", "FSMIRROR_MIRROR"))
print(_threshold())
"""


def test_exports_reach_airflow(tmp_path: Path) -> None:
    script = one("bash", "export AIRFLOW__") + f"\n{sys.executable} -c '{READ_CONF}'\n"
    out = subprocess.run(
        ["bash", "-e", "-c", script], capture_output=True, text=True, env=_clean_env(), check=True
    ).stdout.split()
    assert out == ["fsmirror_airflow.FSMirrorXComBackend", "/opt/airflow/fsmirror.yml", "None", "0"]


def test_airflow_cfg_block_pastes_into_airflow_cfg(tmp_path: Path) -> None:
    (tmp_path / "airflow.cfg").write_text(one("ini", "[fsmirror]"))
    env = _clean_env(
        AIRFLOW_HOME=str(tmp_path), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/a.db"
    )
    proc = subprocess.run([sys.executable, "-c", READ_CONF], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the exact values: no comment became part of one
    assert proc.stdout.split() == [
        "fsmirror_airflow.FSMirrorXComBackend",
        "/opt/airflow/fsmirror.yml",
        "aipipeline",
        "0",
    ]


@pytest.fixture
def docs_store(
    local_config: Callable[..., Path], fsmirror_config: Any, monkeypatch: pytest.MonkeyPatch
) -> FSMirror:
    cfg = fsmirror_config(local_config(mirrors=MIRRORS))
    monkeypatch.setenv("AIRFLOW__FSMIRROR__MIRROR", "aipipeline")
    monkeypatch.setenv("FSMIRROR_CONFIG_PATH", str(cfg))
    return FSMirror(cfg, mirror="aipipeline")


def _dag_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "project" / "aipipeline" / "dags" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _run(path: Path, dag_id: str, airflow_db: Path) -> Any:
    """dag.test() of a DAG file outside the dags folder: parsed, then synced to the DB as the folder's would be."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors, bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.get_dag(dag_id).test(logical_date=DAY, run_after=DAY)


def test_example_dag_history_cli_and_api(tmp_path: Path, airflow_db: Path, docs_store: FSMirror) -> None:
    example = one("python", "# aipipeline/dags/orders.py")
    # the doc shows examples/airflow's DAG file exactly
    assert (
        example
        == "# aipipeline/dags/orders.py\n"
        + (ROOT / "examples" / "airflow" / "aipipeline" / "dags" / "orders.py").read_text()
    )
    dr = _run(_dag_file(tmp_path, "orders.py", example), "orders", airflow_db)
    assert dr.state == "success"
    fm = docs_store

    # the listing: the same files, under this store and this run
    segment = encode_run_id(("orders", dr.run_id))
    listed = [
        line.replace("/tmp/fsmirror-airflow-example", fm.base).replace(
            "orders@manual__2026-11-25T09~3A40~3A00~2B00~3A00", segment
        )
        for line in one("", "/tmp/fsmirror-airflow-example/").splitlines()
        if line.strip() != "..."
    ]
    assert listed and all(Path(p).is_file() for p in listed), listed
    man = fm.manifest_uri(next(p for p in listed if p.endswith("/orders.csv")))
    assert man["orchestrator"]["written_by"] == "task"
    # made by today's code: every task has a fingerprint, nothing is stale (was "8 of 9", #21)
    stale = subprocess.run([str(BIN / "fsmirror"), "stale"], capture_output=True, text=True)
    assert (stale.returncode, stale.stdout) == (
        0,
        "nothing stale: 9 latest artifact(s) made by today's code from their inputs' latest runs\n",
    ), stale.stderr

    # the CLI block, as a shell runs it (FSMIRROR_CONFIG_PATH set, fsmirror on PATH)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for line in one("bash", "fsmirror runs").splitlines():
        proc = subprocess.run(["bash", "-e", "-c", line], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        if "show" in line:
            assert dr.run_id.replace(":", "~3A").replace("+", "~2B") in proc.stdout

    # the API block, at a Python prompt
    scope: dict[str, Any] = {}
    lines = one("python", "dag_partition").splitlines()
    exec("\n".join(lines[:-2]), scope)
    assert eval(lines[-2], scope) == ("orders", dr.run_id)
    assert eval(lines[-1], scope) == 12.5 + 8.0  # Oslo's total, map index 0


def test_post_execute_snippet(
    tmp_path: Path, airflow_db: Path, docs_store: FSMirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 'train' is the user's program: here a script that writes its --out file
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "train").write_text('#!/bin/sh\nmkdir -p "$(dirname "$2")" && printf weights > "$2"\n')
    (tools / "train").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    snippet = one("python", "post_execute=fsmirror_airflow.commit_outputs")
    dag_text = (
        "import datetime as dt\nfrom airflow.sdk import DAG\n\n"
        'with DAG("snippet_post_execute", schedule=None, start_date=dt.datetime(2026, 1, 1)):\n'
        + textwrap.indent(snippet, "    ")
    )
    dag_file = _dag_file(tmp_path, "snippet_post_execute.py", dag_text)
    dr = _run(dag_file, "snippet_post_execute", airflow_db)
    assert dr.state == "success"
    from fsmirror.paths.address import CodeAddress

    where = CodeAddress(tuple(p for p in str(dag_file).split("/") if p), "train")
    man = docs_store.manifest(where, partition="snippet_post_execute")
    assert man["format"] == "bin" and man["size"] == len(b"weights")
    assert man["orchestrator"]["written_by"] == "task"


def test_macro_table_calls_render(tmp_path: Path, airflow_db: Path, docs_store: FSMirror) -> None:
    calls = re.findall(r"^\| `(\{\{ macros\.fsmirror\.path\(.*?\) \}\})` \|", DOC.read_text(), flags=re.M)
    assert len(calls) == 4
    command = "; ".join(f"echo {c}" for c in calls)
    dag_text = (
        "import datetime as dt\n"
        "from airflow.providers.standard.operators.bash import BashOperator\n"
        "from airflow.sdk import DAG\n\n"
        'with DAG("orders_table", schedule=None, start_date=dt.datetime(2026, 1, 1)):\n'
        f"    BashOperator(task_id='export', bash_command={command!r})\n"
    )
    dr = _run(_dag_file(tmp_path, "orders_table.py", dag_text), "orders_table", airflow_db)
    assert dr.state == "success"
    rendered = rendered_fields(airflow_db, "orders_table", dr.run_id, "export")["bash_command"]
    got = [part.removeprefix("echo ") for part in rendered.split("; ")]
    run_dir = f"{docs_store.base}/aipipeline/dags/orders_table/{encode_run_id(('orders_table', dr.run_id))}"
    assert got == [
        f"{run_dir}/export/orders_table/out.parquet",  # the table's first row, with this DAG's names
        f"{run_dir}/export/orders_table",
        f"{run_dir}/export/orders_table/orders.csv",
        f"{docs_store.base}/aipipeline/models/train/{encode_run_id(('orders_table', dr.run_id))}/Trainer/orders_table",
    ]
