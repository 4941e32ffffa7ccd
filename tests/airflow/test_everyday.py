"""What users do every day works as with Airflow's own XCom storage (issue #21).

One local store, four real ``dag.test()`` runs of ``dags/everyday.py`` (made once for the
module: a DAG run costs seconds): a tuple inside a dict, a branch, and a daily DAG run for
two logical dates. Assertions on what landed in storage, what downstream tasks received,
and what the CLI prints.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import DAG_MIRRORS, DAGS, ti_states, xcom_rows
from fsmirror import FSMirror
from fsmirror.cli import cli

REF = "__fsmirror_xcom__"
DAYS = (dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc), dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc))


@dataclass
class Store:
    cfg: Path
    fm: FSMirror
    db: Path
    runs: dict[str, Any]  # dag id (daily: per day) -> the finished DagRun


def _escape(run_id: str) -> str:
    return run_id.replace(":", "~3A").replace("+", "~2B")


def _cli(cfg: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args, "--mirror", "dags"])
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def store(airflow_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    from airflow.dag_processing.dagbag import DagBag

    tmp = tmp_path_factory.mktemp("everyday")
    # allow_pickle: false -- the exact form of a tuple must not be a pickle
    mirrors = {**DAG_MIRRORS, "dags": {**DAG_MIRRORS["dags"], "allow_pickle": False}}
    cfg = tmp / "fsmirror.yml"
    cfg.write_text(
        yaml.safe_dump({"storage": {"provider": "local", "tenant": str(tmp / "store")}, "mirrors": mirrors})
    )
    bag = DagBag(dag_folder=str(DAGS / "everyday.py"))
    assert not bag.import_errors, bag.import_errors
    runs: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AIRFLOW__FSMIRROR__CONFIG_PATH", str(cfg))
        runs["everyday_tuple"] = bag.get_dag("everyday_tuple").test()
        runs["everyday_branch"] = bag.get_dag("everyday_branch").test()
        for day in DAYS:
            runs[f"everyday_daily {day:%Y-%m-%d}"] = bag.get_dag("everyday_daily").test(
                logical_date=day, run_after=day
            )
        assert {k: r.state for k, r in runs.items()} == {k: "success" for k in runs}
        yield Store(cfg, FSMirror(cfg, mirror="dags"), airflow_db, runs)


# -- 1. a tuple inside a dict ---------------------------------------------------------------------


def test_a_tuple_inside_a_dict_comes_back_a_tuple(store: Store) -> None:
    """JSON would give the tuple back as a list; Airflow's serde form (JSON, not pickle) gives it back exactly."""
    fm, dr = store.fm, store.runs["everyday_tuple"]
    base = f"{fm.base}/dags/everyday/everyday_tuple@{_escape(dr.run_id)}"
    # the downstream received exactly the value returned: the tuple stays a tuple, the list a list
    assert fm.read_uri(f"{base}/consume/everyday_tuple/out.json") == "{'a': (1, 2), 'b': [3]} tuple list"
    # what landed: serde's JSON form, and a reference and a manifest that say so
    produced = f"{base}/produce/everyday_tuple/out.json"
    assert json.loads(fm.filesystem.cat_file(produced)) == {
        "a": {"__classname__": "builtins.tuple", "__version__": 1, "__data__": [1, 2]},
        "b": [3],
    }
    man = fm.manifest_uri(produced)
    assert (man["format"], man["orchestrator"]["encoding"]) == ("json", "airflow.serde")
    rows = xcom_rows(store.db, "everyday_tuple", dr.run_id)
    assert rows[("produce", -1, "return_value")] == {
        REF: produced,
        "mirror": "dags",
        "encoding": "airflow.serde",
    }
    # a value JSON keeps exactly is stored as before: plain JSON, no encoding
    assert rows[("consume", -1, "return_value")] == {
        REF: f"{base}/consume/everyday_tuple/out.json",
        "mirror": "dags",
    }


# -- 3. Airflow's internal XComs ------------------------------------------------------------------


def test_branch_decisions_stay_inline_and_branching_works(store: Store) -> None:
    """``@task.branch`` pushes ``skipmixin_key``, Airflow's own: the DB keeps it, ``ls`` shows no artifact."""
    dr = store.runs["everyday_branch"]
    states = ti_states(store.db, "everyday_branch", dr.run_id)
    assert (states[("left", -1)][0], states[("right", -1)][0]) == ("success", "skipped")
    rows = xcom_rows(store.db, "everyday_branch", dr.run_id)
    assert rows[("choose", -1, "skipmixin_key")] == {"followed": ["left"]}  # inline, as Airflow stores it
    listed = json.loads(_cli(store.cfg, "ls", "dags/everyday.py", "--json"))
    got = sorted((a["qualname"], a["partition"]) for a in listed if a["partition"] == "everyday_branch")
    assert got == [("left", "everyday_branch"), ("shared", "everyday_branch")]  # no 'choose' artifact


@pytest.mark.parametrize("key", ["skipmixin_key", "trigger_run_id", "trigger_logical_date_iso"])
def test_airflow_internal_keys_are_returned_unchanged(key: str, store: Store, monkeypatch: Any) -> None:
    from fsmirror_airflow import FSMirrorXComBackend

    monkeypatch.setenv("AIRFLOW__FSMIRROR__CONFIG_PATH", str(store.cfg))
    value = {"followed": ["left"]}
    got = FSMirrorXComBackend.serialize_value(
        value, key=key, task_id="t", dag_id="d", run_id="r", map_index=-1
    )
    assert got == value


# -- 2. the data day ------------------------------------------------------------------------------


def _daily_uri(store: Store, day: dt.datetime) -> str:
    run = _escape(store.runs[f"everyday_daily {day:%Y-%m-%d}"].run_id)
    return f"{store.fm.base}/dags/everyday/everyday_daily@{run}/daily_total/everyday_daily/out.json"


def test_the_data_day_is_recorded_and_selects(store: Store) -> None:
    """Two runs of a daily DAG: each manifest records its logical date, and the CLI finds each day's artifact."""
    fm = store.fm
    day1, day2 = (_daily_uri(store, d) for d in DAYS)
    man = fm.manifest_uri(day1)
    assert (man["logical_date"], man["data_interval"]) == (
        "2026-11-20T00:00:00+00:00",
        # Airflow 3's @daily (CronTriggerTimetable): the interval of a run is its logical date alone
        {"start": "2026-11-20T00:00:00+00:00", "end": "2026-11-20T00:00:00+00:00"},
    )
    assert fm.manifest_uri(day2)["logical_date"] == "2026-11-21T00:00:00+00:00"

    # show: the day's artifact (no --partition: one DAG runs this task), with its day printed
    for day, uri in ((DAYS[0], day1), (DAYS[1], day2)):
        out = _cli(store.cfg, "show", "dags/everyday.py::daily_total", "--logical-date", f"{day:%Y-%m-%d}")
        seg = uri.split("/")[-4]
        assert out.splitlines()[:5] == [
            f"artifact       {uri}",
            "code           dags/everyday.py::daily_total",
            f"run            {seg} (from airflow)",
            f"logical date   {day.isoformat()}",
            f"data interval  {day.isoformat()} .. {day.isoformat()}",
        ]
    # an instant selects too; a day without a run names the days there are
    shown = json.loads(
        _cli(
            store.cfg,
            "show",
            "dags/everyday.py::daily_total",
            "--logical-date",
            "2026-11-21T00:00:00Z",
            "--json",
        )
    )
    assert shown["uri"] == day2
    assert _cli(
        store.cfg, "show", "dags/everyday.py::daily_total", "--logical-date", "2026-11-22", code=1
    ) == (
        "fsmirror: error: no committed artifact of dags/everyday.py::daily_total has logical date 2026-11-22; "
        "its logical dates: '2026-11-20T00:00:00+00:00', '2026-11-21T00:00:00+00:00'\n"
    )
    assert "is not a date (2026-11-20) or an ISO 8601 time" in _cli(
        store.cfg, "show", "dags/everyday.py::daily_total", "--logical-date", "20th", code=2
    )

    # ls: exactly that day's artifact, whichever the code path given
    for day, uri in ((DAYS[0], day1), (DAYS[1], day2)):
        for where in ("dags/everyday.py::daily_total", "dags"):
            listed = json.loads(_cli(store.cfg, "ls", where, "--logical-date", f"{day:%Y-%m-%d}", "--json"))
            assert [(a["uri"], a["logical_date"]) for a in listed] == [(uri, day.isoformat())]
    assert _cli(store.cfg, "ls", "dags", "--logical-date", "2026-11-22") == (
        f"no committed artifacts under {fm.base} for dags of logical date 2026-11-22\n"
    )

    # query: the columns, in UTC
    from fsmirror.services.inventory import committed
    from fsmirror.services.query import rows_of

    rows = sorted(
        (r["uri"], r["logical_date"], r["data_interval_start"], r["data_interval_end"])
        for r in rows_of(committed(fm))
        if r["qualname"] == "daily_total"
    )
    assert rows == [
        (day1, "2026-11-20 00:00:00", "2026-11-20 00:00:00", "2026-11-20 00:00:00"),
        (day2, "2026-11-21 00:00:00", "2026-11-21 00:00:00", "2026-11-21 00:00:00"),
    ]


# -- 4. the only partition ------------------------------------------------------------------------


def test_show_takes_the_only_dag_and_names_the_dags_when_several(store: Store) -> None:
    """``daily_total`` runs in one DAG: no ``--partition``. ``shared`` runs in two: the error names both."""
    shown = json.loads(_cli(store.cfg, "show", "dags/everyday.py::daily_total", "--json"))
    assert (shown["uri"], shown["partition"]) == (_daily_uri(store, DAYS[1]), "everyday_daily")  # the latest
    assert _cli(store.cfg, "show", "dags/everyday.py::shared", code=1) == (
        "fsmirror: error: dags/everyday.py::shared is partitioned: 'everyday_branch', 'everyday_tuple'; "
        "name one (--partition/-p)\n"
    )
    shown = json.loads(_cli(store.cfg, "show", "dags/everyday.py::shared", "-p", "everyday_branch", "--json"))
    assert shown["orchestrator"]["dag_id"] == "everyday_branch"


def test_lineage_takes_the_only_dag_and_names_the_dags_when_several(store: Store) -> None:
    fm, run = store.fm, _escape(store.runs["everyday_tuple"].run_id)
    base = f"{fm.base}/dags/everyday/everyday_tuple@{run}"
    at = f"[everyday_tuple@{run}, partition=everyday_tuple]"
    assert _cli(store.cfg, "lineage", "dags/everyday.py::consume") == (
        f"dags/everyday.py::consume {at}  {base}/consume/everyday_tuple/out.json\n"
        f"└── dags/everyday.py::produce {at}  {base}/produce/everyday_tuple/out.json\n"
    )
    assert _cli(store.cfg, "lineage", "dags/everyday.py::shared", code=1) == (
        "fsmirror: error: dags/everyday.py::shared is partitioned: 'everyday_branch', 'everyday_tuple'; "
        "name one (--partition P)\n"
    )
