"""The path grammar: providers, namespace/prefix, layouts, partitions and outputs; nothing escapes."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fsmirror import ConfigError, FSMirror, ResolveError
from fsmirror.paths.layout import compile_layout, relative_path


def mk(provider="s3", tenant="bkt", namespace="MIRROR", **mirror) -> FSMirror:
    m = {"root": "project", **mirror}
    return FSMirror(
        {"storage": {"provider": provider, "tenant": tenant, "namespace": namespace}, "mirrors": {"m": m}}
    )


ADDR = "project/etl/my_etl_task.py::LiftDataTask"


@pytest.mark.parametrize(
    ("provider", "tenant", "expected"),
    [
        ("s3", "my.bucket", "s3://my.bucket/project/etl/my_etl_task/r1/LiftDataTask/out.parquet"),
        ("gcs", "my-bucket", "gs://my-bucket/project/etl/my_etl_task/r1/LiftDataTask/out.parquet"),
        ("blob", "container", "az://container/project/etl/my_etl_task/r1/LiftDataTask/out.parquet"),
        ("memory", "mem", "memory://mem/project/etl/my_etl_task/r1/LiftDataTask/out.parquet"),
        ("local", "/data/artifacts/", "/data/artifacts/project/etl/my_etl_task/r1/LiftDataTask/out.parquet"),
        ("local", "./store", "store/project/etl/my_etl_task/r1/LiftDataTask/out.parquet"),
    ],
)
def test_providers(provider: str, tenant: str, expected: str) -> None:
    assert mk(provider, tenant).mirror_full_output(ADDR, run_id="r1") == expected


@pytest.mark.parametrize(
    ("namespace", "prefix", "middle"),
    [
        ("MIRROR", "MIRROR", ""),
        ("", None, ""),
        ("team", "MIRROR", "team/"),
        ("team", "v2", "team/v2/"),
        (None, "v2", "v2/"),
    ],
)
def test_namespace_and_prefix(namespace, prefix, middle) -> None:
    fm = mk(namespace=namespace, prefix=prefix)
    assert fm.mirror_full(ADDR, run_id="r") == f"s3://bkt/{middle}project/etl/my_etl_task/r/LiftDataTask"


def test_layout_groups_runs_under_each_task() -> None:
    fm = mk(layout="{module}/{name}/{run_id}")
    assert (
        fm.mirror_full_output(ADDR, run_id="r1")
        == "s3://bkt/project/etl/my_etl_task/LiftDataTask/r1/out.parquet"
    )
    assert fm.mirror_full(ADDR, with_id=False) == "s3://bkt/project/etl/my_etl_task/LiftDataTask"


def test_partition_and_output_overrides() -> None:
    fm = mk()
    out = fm.mirror_full_output(
        ADDR, run_id="r1", partition="2026-11-24", output_name="features", output_format="csv"
    )
    assert out == "s3://bkt/project/etl/my_etl_task/r1/LiftDataTask/2026-11-24/features.csv"
    assert fm.mirror_full_output(ADDR, run_id="r1", partition="a/b").endswith(
        "/LiftDataTask/a~2Fb/out.parquet"
    )


@pytest.mark.parametrize("name", ["../x", "_hidden", "a.b", ""])
def test_bad_output_names(name: str) -> None:
    with pytest.raises(ResolveError):
        mk().mirror_full_output(ADDR, run_id="r", output_name=name)


def test_directories_with_dots_keep_them_and_last_root_wins() -> None:
    fm = mk()
    assert (
        fm.mirror_relative("/srv/project/app/project/v1.2/jobs.py::run", with_id=False)
        == "project/v1.2/jobs/run"
    )
    fm_first = FSMirror(fm.config.model_dump(), take_last_instance=False)
    assert (
        fm_first.mirror_relative("/srv/project/app/project/jobs.py::run", with_id=False)
        == "project/app/project/jobs/run"
    )


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ("no_separator", "not of the form"),
        ("project/x.py::", "not a Python qualified name"),
        ("project/x.py::a b", "not a Python qualified name"),
        ("project/x.py::<lambda>", "not a Python qualified name"),
        ("::Name", "no module path"),
        ("elsewhere/x.py::Name", "outside the mirror's root 'project'"),
        ("project/../../etc/passwd.py::Name", "not a single path segment"),
        ("project/a\x00b/x.py::Name", "NUL or control"),
        (len, "no Python source file"),
    ],
)
def test_resolve_errors(obj, match: str) -> None:
    with pytest.raises(ResolveError, match=match):
        mk().mirror_full(obj, run_id="r")


def test_lambdas_locals_and_notebook_cells(seed: ModuleType, tmp_path: Path) -> None:
    fm = FSMirror(
        {
            "storage": {"provider": "local", "tenant": str(tmp_path)},
            "mirrors": {"fsmirror": {"root": "fsmirror"}},
        }
    )
    with pytest.raises(ResolveError, match="lambda.*define it with 'def'"):
        fm.mirror_full(seed.square)
    with pytest.raises(ResolveError, match="inside a function.*move it to module level"):
        fm.mirror_full(seed.make_local())
    ns: dict = {}
    exec("def cell():\n    pass\n", ns)
    with pytest.raises(ResolveError, match="no file.*notebook"):
        fm.mirror_full(ns["cell"])


@pytest.mark.parametrize(
    "layout",
    [
        "{module}/{name}",
        "{module}/{run_id}/{name}/{name}",
        "{module}/{run_id}{name}",
        "{module}/../{run_id}/{name}",
        "{module}/{run}/{name}",
    ],
)
def test_bad_layouts(layout: str) -> None:
    with pytest.raises(ConfigError, match="layout"):
        mk(layout=layout)


segments = st.text(min_size=1, max_size=30)


@settings(max_examples=4000, deadline=None)
@given(
    run_id=segments,
    name=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}(\.[A-Za-z_][A-Za-z0-9_]{0,10}){0,2}", fullmatch=True),
    dirs=st.lists(segments, max_size=4),
    partition=st.none() | segments,
)
def test_no_input_escapes_the_tenant(run_id: str, name: str, dirs: list[str], partition) -> None:
    fm = mk(tenant="bkt", namespace="ns")
    addr = "/".join(["project", *dirs, "mod.py"]) + "::" + name
    try:
        uri = fm.mirror_full_output(addr, run_id=run_id, partition=partition)
    except ResolveError:
        return
    assert uri.startswith("s3://bkt/ns/project/")
    parts = uri[len("s3://") :].split("/")
    assert all(p and p not in (".", "..") and not any(ord(c) < 32 or ord(c) == 127 for c in p) for p in parts)


def test_layout_is_pure() -> None:
    tokens = compile_layout("{module}/{run_id}/{name}")
    assert relative_path(tokens, "a/b", "r", "N") == "a/b/r/N"
    assert relative_path(tokens, "a/b", None, "N") == "a/b/N"


def test_config_values_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUCKET", "env.bucket")
    cfg = tmp_path / "c.yml"
    cfg.write_text(
        yaml.safe_dump(
            {"storage": {"provider": "s3", "tenant": "${BUCKET}"}, "mirrors": {"m": {"root": "project"}}}
        )
    )
    assert FSMirror(str(cfg)).mirror_full(ADDR, run_id="r").startswith("s3://env.bucket/")


def test_an_airflow_task_id_is_an_address_name() -> None:
    """Airflow task ids are not Python names ('load-orders'); the XCom backend writes under them,
    so a string address must reach the same path (show, manifest_uri, lineage)."""
    fm = FSMirror({"storage": {"provider": "memory", "tenant": "t"}, "mirrors": {"m": {"root": "dags"}}})
    assert fm.mirror_relative("dags/etl.py::load-orders", run_id="r1") == "dags/etl/r1/load-orders"
    assert fm.mirror_relative("dags/etl.py::Group.load-orders", with_id=False) == "dags/etl/Group.load-orders"
