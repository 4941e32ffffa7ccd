"""Files a task writes itself at ``{{ macros.fsmirror.path(...) }}`` are recorded when it succeeds.

Recorded means committed like any artifact: a manifest (size, hash, run, task),
so ``fsmirror ls`` / ``show`` / ``gc`` see the file and ``FSMirror.read`` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import DAG_MIRRORS, ti_states, xcom_rows
from fsmirror import FSMirror
from fsmirror.cli import cli
from fsmirror.model.hashing import hash_bytes
from fsmirror.paths.address import CodeAddress

REF = "__fsmirror_xcom__"
DAG_FILE = Path(__file__).parent / "dags" / "macro_files.py"


def _task(task_id: str) -> CodeAddress:
    return CodeAddress(tuple(p for p in str(DAG_FILE).split("/") if p), task_id)


def _cli(cfg: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args, "--mirror", "dags"], catch_exceptions=False)


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_files_written_at_macro_paths_get_a_manifest(
    provider: str,
    run_dag: Callable[..., Any],
    airflow_db: Path,
    request: pytest.FixtureRequest,
    fsmirror_config: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = fsmirror_config(request.getfixturevalue(f"{provider}_config")(mirrors=DAG_MIRRORS))
    fm = FSMirror(cfg, mirror="dags")
    dr = run_dag("macro_files", "macro_files")
    assert dr.state == "success"
    run = ("macro_files", dr.run_id)
    kw: dict[str, Any] = {"run_id": run, "partition": "macro_files"}

    # A BashOperator's CSV (bash writes local paths; on S3 a task would use its own client).
    if provider == "local":
        man = fm.manifest(_task("export"), output_name="orders", **kw)
        data = fm.filesystem.cat_file(man["uri"])
        assert data == b"city,amount\nOslo,12.5\n"
        assert man["format"] == "csv" and man["size"] == len(data)
        assert man["hash"]["digest"] == hash_bytes(data, man["hash"]["algorithm"])
        assert man["run"]["id"] == list(run) and man["run"]["source"] == "airflow"
        assert man["orchestrator"] == {
            "dag_id": "macro_files",
            "task_id": "export",
            "run_id": dr.run_id,
            "map_index": -1,
            "try_number": 1,
            "written_by": "task",
        }
        assert fm.latest(_task("export"), partition="macro_files", output_name="orders") == run

    # The task's own file took its default name 'out'; its return value moved to 'xcom-return_value'.
    # fsmirror never saw the Python value, so a parquet file reads back as a pyarrow Table.
    table = fm.read(_task("own_default"), **kw)
    frame = table.to_pandas()
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"city": ["Oslo", "Lima"], "amount": [12.5, 30.0]}))
    assert fm.manifest(_task("own_default"), **kw)["format"] == "parquet"
    ref = xcom_rows(airflow_db, "macro_files", dr.run_id)[("own_default", -1, "return_value")][REF]
    assert ref == fm.mirror_full_output(
        _task("own_default"), output_name="xcom-return_value", output_format="json", **kw
    )
    assert fm.read_uri(ref) == "wrote a frame"

    # Files written into path(output=False): each <name>.<format> is its own output.
    assert fm.read(_task("own_dir"), output_name="model", format="txt", **kw) == "weights"
    assert fm.read(_task("own_dir"), output_name="metrics", **kw) == {"auc": 0.9}
    names = {p.rsplit("/", 1)[-1] for p in fm.filesystem.ls(fm.mirror_full(_task("own_dir"), **kw))}
    assert names >= {"_model.manifest.json", "_metrics.manifest.json", "_scratch.txt", "no good.txt"}
    assert not any(n.startswith(("_scratch.", "_no good")) and "manifest" in n for n in names)
    # The task's XCom under a key that is no file stem lands in the same directory (escaped), as
    # the backend's artifact: not recorded again as the task's file, and no warning about its name.
    pushed = fm.manifest(_task("own_dir"), output_name="xcom-model~2Ev2", **kw)
    assert pushed["orchestrator"]["xcom_key"] == "model.v2" and "written_by" not in pushed["orchestrator"]
    assert fm.read_uri(pushed["uri"]) == "pushed"
    unrecorded = [r.getMessage() for r in caplog.records if "is not recorded" in r.getMessage()]
    assert [m.split(" is not recorded")[0].rsplit("/", 1)[1] for m in unrecorded] == ["no good.txt"]

    # post_execute=commit_outputs records before the task succeeds: same result, and the
    # return value pushed after the record still leaves the task's own file alone.
    assert fm.read(_task("strict"), output_name="summary", **kw) == {"rows": 2}
    assert fm.manifest(_task("strict_default"), **kw)["format"] == "parquet"
    assert fm.read(_task("strict_default"), **kw).num_rows == 2
    ref = xcom_rows(airflow_db, "macro_files", dr.run_id)[("strict_default", -1, "return_value")][REF]
    assert ref.endswith("/strict_default/macro_files/xcom-return_value.json")

    # ls and show see them; gc counts them like any run.
    listed = _cli(cfg, "ls", "--json", "dags/macro_files.py")
    assert listed.exit_code == 0, listed.output
    listing = json.loads(listed.output)
    seen = {(a["qualname"], a["output_name"]) for a in listing}
    assert seen >= {
        *([("export", "orders")] if provider == "local" else []),
        ("own_default", "out"),
        ("own_default", "xcom-return_value"),
        ("own_dir", "model"),
        ("own_dir", "metrics"),
        ("strict", "summary"),
    }
    shown = _cli(cfg, "show", "dags/macro_files.py::strict", "--output-name", "summary", "-p", "macro_files")
    assert shown.exit_code == 0 and "written_by=task" in shown.output, shown.output


def test_a_retried_task_records_the_file_of_its_successful_try(
    run_dag: Callable[..., Any], airflow_db: Path, local_config: Callable[..., Path], fsmirror_config: Any
) -> None:
    fm = FSMirror(fsmirror_config(local_config(mirrors=DAG_MIRRORS)), mirror="dags")
    dr = run_dag("macro_files", "macro_retry")
    assert dr.state == "success"
    assert ti_states(airflow_db, "macro_retry", dr.run_id) == {("flaky", -1): ("success", 2)}
    kw: dict[str, Any] = {"partition": "macro_retry", "output_name": "attempt"}
    assert fm.runs(_task("flaky"), **kw) == [("macro_retry", dr.run_id)]
    man = fm.manifest(_task("flaky"), **kw)
    assert (man["attempt"], man["orchestrator"]["try_number"]) == (1, 2)  # attempt = try_number - 1
    assert fm.read(_task("flaky"), **kw) == {"try": 2}


def test_a_record_that_fails_fails_the_task_with_post_execute(
    run_dag: Callable[..., Any],
    airflow_db: Path,
    local_config: Callable[..., Path],
    fsmirror_config: Any,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fm = FSMirror(fsmirror_config(local_config(mirrors=DAG_MIRRORS)), mirror="dags")
    dr = run_dag("macro_files", "record_fails_strict")
    assert dr.state == "failed"
    assert ti_states(airflow_db, "record_fails_strict", dr.run_id) == {("sabotaged", -1): ("failed", 1)}
    log = capfd.readouterr().out
    assert "fsmirror: recording " in log and "written by task 'sabotaged' of DAG 'record_fails_strict'" in log
    kw: dict[str, Any] = {"run_id": ("record_fails_strict", dr.run_id), "partition": "record_fails_strict"}
    assert not fm.exists(_task("sabotaged"), output_name="result", **kw)
    # The task's file is back where it wrote it, not lost in the aside area.
    out = fm.mirror_full_output(_task("sabotaged"), output_name="result", output_format="json", **kw)
    assert Path(out).read_bytes() == b'{"ok": true}'


def test_a_record_that_fails_after_success_is_logged(
    run_dag: Callable[..., Any],
    airflow_db: Path,
    local_config: Callable[..., Path],
    fsmirror_config: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fsmirror_config(local_config(mirrors=DAG_MIRRORS))
    dr = run_dag("macro_files", "record_fails_after_success")
    assert dr.state == "success"  # the listener runs after Airflow recorded the success
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR" and r.name == "airflow.task"]
    assert any(
        "written by task 'sabotaged' of DAG 'record_fails_after_success'" in m
        and "the task succeeded but this file has no manifest" in m
        and "post_execute=fsmirror_airflow.commit_outputs" in m
        for m in errors
    ), errors
