"""``code_version(__file__, name)`` / ``with_code_versions``: Dagster's own staleness follows the fingerprint.

Real Dagster: assets in a module file under a temp project are materialized through
FSMirrorIOManager on one shared instance; the file is then edited on disk and loaded
again (as a code location reload does), and Dagster's stale-status resolver — the one its
UI and ``stale_assets_only`` run requests use — is asked what it thinks.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from dagster._core.definitions.data_version import StaleStatus
from dagster._utils.test.data_versions import get_stale_status_resolver

from dagster import AssetKey, DagsterInstance, materialize
from fsmirror import FSMirror, ResolveError
from fsmirror.paths.runid import encode_run_id
from fsmirror_dagster import FSMirrorIOManager, code_version, with_code_versions

ONE_LINE = '''\
from dagster import asset
from fsmirror_dagster import code_version


@asset(code_version=code_version(__file__, "orders", root="project"))
def orders() -> list:
    """The orders."""
    return [1, 2, 3]


@asset(code_version=code_version(__file__, "report", root="project"))
def report(orders: list) -> int:
    return sum(orders)
'''

PLAIN = """\
from dagster import asset


@asset
def orders() -> list:
    return [1, 2, 3]


@asset
def report(orders: list) -> int:
    return sum(orders)
"""

_names = itertools.count()


def _load(path: Path) -> ModuleType:
    """Import the file afresh under a new module name (what a code location reload does)."""
    name = f"_fsmirror_cv_{next(_names)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _cv(asset: Any) -> str | None:
    """The code version Dagster's asset graph holds for a one-asset definition."""
    return asset.code_versions_by_key[asset.key]  # type: ignore[no-any-return]


def _status(instance: DagsterInstance, assets: list[Any]) -> dict[str, tuple[StaleStatus, list[str]]]:
    resolver = get_stale_status_resolver(instance, assets)
    out = {}
    for a in assets:
        key = a.key
        causes = [
            f"{c.category.value}: {c.key.asset_key.to_user_string()} {c.reason}"
            + (f" ({c.dependency.asset_key.to_user_string()})" if c.dependency else "")
            for c in resolver.get_stale_causes(key)
        ]
        out[key.to_user_string()] = (resolver.get_status(key), causes)
    return out


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # each reload compiles the file as it is now
    d = tmp_path / "src" / "project" / "etl"
    d.mkdir(parents=True)
    return d


@pytest.mark.parametrize("store", ["local", "s3"])
def test_one_line_code_version_makes_dagster_see_logic_edits_and_not_comment_edits(
    store: str, project: Path, request: pytest.FixtureRequest, instance: DagsterInstance
) -> None:
    src = project / "assets.py"
    src.write_text(ONE_LINE)
    config = request.getfixturevalue(f"{store}_config")()
    io = {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config))}
    first = _load(src)
    assets = [first.orders, first.report]
    result = materialize(assets, instance=instance, resources=io)
    assert result.success
    v1 = _cv(first.orders)
    assert v1 is not None and len(v1) == 16

    # The version Dagster recorded is the fingerprint fsmirror recorded in the artifact's manifest.
    fm = FSMirror(str(config), mirror="project")
    man = fm.manifest(f"{src}::orders", run_id=result.run_id)
    assert man["run"]["segment"] == encode_run_id(result.run_id)
    assert man["code"]["fingerprint"] == v1
    mat = instance.get_latest_materialization_event(AssetKey("orders"))
    assert mat is not None and mat.asset_materialization is not None
    assert mat.asset_materialization.tags is not None
    assert mat.asset_materialization.tags["dagster/code_version"] == v1
    assert _status(instance, assets) == {"orders": (StaleStatus.FRESH, []), "report": (StaleStatus.FRESH, [])}

    # Comments, a docstring and reformatting: the same code version, nothing stale.
    src.write_text(
        ONE_LINE.replace('    """The orders."""\n', "    # the orders, hand-made\n").replace(
            "return [1, 2, 3]", "return [1,2,3]  # three"
        )
    )
    second = _load(src)
    assert _cv(second.orders) == v1
    assets = [second.orders, second.report]
    assert _status(instance, assets) == {"orders": (StaleStatus.FRESH, []), "report": (StaleStatus.FRESH, [])}

    # A logic edit: a new code version for orders only. Dagster 1.13 flags the asset whose code
    # changed, not its downstream (`fsmirror stale` does flag that, through lineage).
    src.write_text(ONE_LINE.replace("return [1, 2, 3]", "return [1, 2, 3, 4]"))
    third = _load(src)
    assert _cv(third.orders) not in (None, v1)
    assert _cv(third.report) == _cv(first.report)
    assets = [third.orders, third.report]
    assert _status(instance, assets) == {
        "orders": (StaleStatus.STALE, ["CODE: orders has a new code version"]),
        "report": (StaleStatus.FRESH, []),
    }

    # Rematerializing orders with the new code gives it a new data version: now report is stale.
    assert materialize(assets, selection=[third.orders], instance=instance, resources=io).success
    assert _status(instance, assets) == {
        "orders": (StaleStatus.FRESH, []),
        "report": (StaleStatus.STALE, ["DATA: report has a new dependency data version (orders)"]),
    }
    assert materialize(assets, instance=instance, resources=io).success
    assert _status(instance, assets) == {"orders": (StaleStatus.FRESH, []), "report": (StaleStatus.FRESH, [])}


def test_with_code_versions_stamps_every_asset_from_its_own_function(
    project: Path, local_config: Any, instance: DagsterInstance
) -> None:
    src = project / "assets.py"
    src.write_text(PLAIN)
    mod = _load(src)
    assert _cv(mod.orders) is None
    stamped = with_code_versions([mod.orders, mod.report])
    by_key = {a.key.to_user_string(): _cv(a) for a in stamped}
    assert by_key == {
        "orders": code_version(f"{src}::orders"),
        "report": code_version(src, "report"),
    }
    io = {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(local_config()))}
    assert materialize(stamped, instance=instance, resources=io).success
    assert _status(instance, stamped) == {
        "orders": (StaleStatus.FRESH, []),
        "report": (StaleStatus.FRESH, []),
    }

    src.write_text(PLAIN.replace("return sum(orders)", "return sum(orders) * 2"))
    again = with_code_versions([_load(src).orders, _load(src).report])
    assert _status(instance, list(again)) == {
        "orders": (StaleStatus.FRESH, []),
        "report": (StaleStatus.STALE, ["CODE: report has a new code version"]),
    }
    # An explicit code_version is kept.
    from dagster import asset

    @asset(code_version="v7")
    def pinned() -> int:
        return 1

    assert [_cv(a) for a in with_code_versions([pinned])] == ["v7"]


def test_code_version_errors_say_what_is_wrong(project: Path) -> None:
    src = project / "assets.py"
    src.write_text(PLAIN)
    with pytest.raises(ResolveError, match=r"no definition of ordrs in the source \(.*assets.py::ordrs\)"):
        code_version(src, "ordrs")
    with pytest.raises(ResolveError, match=r"source missing \(.*nope.py::orders\)"):
        code_version(project / "nope.py", "orders")
    with pytest.raises(ResolveError, match="give the name too"):
        code_version(src)
    with pytest.raises(ResolveError, match="not under a directory named 'pipeline'"):
        code_version(src, "orders", root="pipeline")
    assert json.dumps(code_version(src, "orders"))  # a plain string Dagster can store
