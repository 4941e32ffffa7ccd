"""What Dagster users do every day works as with Dagster's own storage (issue #21).

Real Dagster runs on one shared instance, a local store; each test asserts what landed in
storage and what Dagster recorded in its event log:

- an asset whose value is None is loaded back in a later run (``Definitions.load_asset_value``,
  a run of the downstream only), as ``FilesystemIOManager`` does;
- ``with_code_versions`` takes a ``Definitions`` with a ``@graph_asset``, a ``@multi_asset``
  and factory-made assets, and each code version is the fingerprint fsmirror records;
- the output metadata carries the keys Dagster's UI and ``UPathIOManager`` use;
- the materialization's data version is the artifact's content hash, so Dagster's own
  staleness follows content.
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
from dagster._core.definitions.data_version import (
    DATA_VERSION_IS_USER_PROVIDED_TAG,
    DATA_VERSION_TAG,
    StaleStatus,
)
from dagster._core.definitions.metadata.metadata_set import UriMetadataSet
from dagster._utils.test.data_versions import get_stale_status_resolver
from dagster_sample.project.etl import everyday as E
from dagster_sample.project.etl import factory as F

from conftest import materialization_metadata
from dagster import (
    AssetKey,
    DagsterInstance,
    Definitions,
    MetadataValue,
    materialize,
)
from fsmirror import FSMirror
from fsmirror.paths.runid import encode_run_id
from fsmirror_dagster import FSMirrorIOManager, code_version, content_data_version, with_code_versions

MOD = "project/etl/everyday"
SRC = E.__file__


def _io(config: Path, **kw: Any) -> dict[str, Any]:
    return {"io_manager": FSMirrorIOManager(mirror="project", config_path=str(config), **kw)}


def _uri(instance: DagsterInstance, key: str) -> str:
    """The ``uri`` metadata of ``key``'s latest materialization."""
    entry = instance.get_latest_materialization_event(AssetKey(key))
    assert entry is not None and entry.asset_materialization is not None
    return str(entry.asset_materialization.metadata["uri"].value)


def _tags(instance: DagsterInstance, key: str) -> dict[str, str]:
    """The tags of ``key``'s latest materialization, as Dagster's data-version record holds them."""
    record = instance.get_latest_data_version_record(AssetKey(key))
    assert record is not None and record.asset_materialization is not None
    return dict(record.asset_materialization.tags or {})


# -- None ------------------------------------------------------------------------------------


def test_none_value_is_loaded_back_in_a_later_run(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config()
    store = tmp_path / "store"
    defs = Definitions(assets=[E.nothing, E.got_nothing], resources=_io(config))
    first = materialize([E.nothing, E.got_nothing], instance=instance, resources=_io(config))
    assert first.success
    assert first.output_for_node("got_nothing") == "None"
    seg = encode_run_id(first.run_id)
    # None is stored like any value: the parquet mirror cannot hold it, so it fell back to JSON
    stored = store / f"{MOD}/{seg}/nothing/out.json"
    assert stored.read_text() == "null"
    assert _uri(instance, "nothing") == str(stored)

    # A separate call, as a notebook or a script does: the value through the event log.
    assert defs.load_asset_value("nothing", instance=instance) is None

    # A run of the downstream only reads the upstream from the first run.
    second = materialize(
        [E.nothing, E.got_nothing], selection=[E.got_nothing], instance=instance, resources=_io(config)
    )
    assert second.success
    assert second.output_for_node("got_nothing") == "None"
    fm = FSMirror(config, mirror="project")
    down = fm.manifest_uri(_uri(instance, "got_nothing"))
    assert down["run"]["id"] == second.run_id
    assert [i["uri"] for i in down["inputs"]] == [str(stored)]  # read from the first run's artifact


# -- code versions ---------------------------------------------------------------------------


def test_with_code_versions_on_graph_multi_and_factory_assets_equals_the_manifests(
    local_config: Any, instance: DagsterInstance
) -> None:
    config = local_config()
    assets = with_code_versions([E.graphed, E.split, E.eu_count, E.us_count], root="project")
    defs = Definitions(assets=assets, resources=_io(config))
    graph = defs.resolve_asset_graph()  # the definitions load
    versions = {k.to_user_string(): graph.get(k).code_version for k in graph.get_all_asset_keys()}
    assert set(versions) == {"graphed", "left", "right", "eu_count", "us_count"}
    assert all(v is not None and len(v) == 16 for v in versions.values()), versions

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert result.success
    fm = FSMirror(config, mirror="project")
    recorded = {}
    for key in versions:
        man = fm.manifest_uri(_uri(instance, key))
        assert man["run"]["id"] == result.run_id
        recorded[key] = (man["code"]["address"], man["code"]["fingerprint"])
        assert _tags(instance, key)["dagster/code_version"] == versions[key]  # what Dagster recorded

    # @multi_asset and factory assets: the code version is the fingerprint of the code the
    # manifest names (a factory's product: the enclosing function, the same for every region)
    assert recorded["left"] == (f"{MOD}.py::split", versions["left"])
    assert recorded["right"] == (f"{MOD}.py::split", versions["right"])
    assert recorded["eu_count"] == (f"{MOD}.py::make_count.eu_count", versions["eu_count"])
    assert recorded["us_count"] == (f"{MOD}.py::make_count.us_count", versions["us_count"])
    assert versions["eu_count"] == versions["us_count"] == code_version(SRC, "make_count", root="project")

    # @graph_asset: the output's manifest names the op that wrote it; the asset's version is
    # its composition function's, which also covers the op feeding that one (next test)
    assert recorded["graphed"] == (f"{MOD}.py::plus_one", code_version(SRC, "plus_one", root="project"))
    assert versions["graphed"] == code_version(SRC, "graphed", root="project")
    assert versions["graphed"] != recorded["graphed"][1]

    # A factory asset stored under a declared address (fsmirror/address metadata): its manifests
    # name that address, not the function, so it gets no version from the function.
    (pinned,) = with_code_versions([F.apac_sales], root="project")
    assert pinned.code_versions_by_key == {AssetKey("apac_sales"): None}


GRAPH = '''\
from dagster import graph_asset, op


@op
def base() -> int:
    return 20


@op
def plus_one(x: int) -> int:
    return x + 1


@graph_asset
def graphed() -> int:
    return plus_one(base())
'''

_names = itertools.count()


def _load(path: Path) -> ModuleType:
    """Import the file afresh under a new module name (what a code location reload does)."""
    spec = importlib.util.spec_from_file_location(f"_fsmirror_everyday_{next(_names)}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_graph_asset_code_version_follows_every_op_it_wires(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    src = tmp_path / "project" / "etl" / "graphs.py"
    src.parent.mkdir(parents=True)
    src.write_text(GRAPH)

    def version() -> str | None:
        (stamped,) = with_code_versions([_load(src).graphed], root="project")
        return stamped.code_versions_by_key[AssetKey("graphed")]  # type: ignore[no-any-return]

    before = version()
    output_op = code_version(src, "plus_one", root="project")  # what the output's manifest records
    assert before is not None
    src.write_text(GRAPH.replace("return 20", "return 20  # twenty"))  # a comment: the same
    assert version() == before
    src.write_text(GRAPH.replace("return 20", "return 21"))  # the op that feeds the output op
    assert version() not in (None, before)
    assert code_version(src, "plus_one", root="project") == output_op  # which the op's own does not see


# -- metadata --------------------------------------------------------------------------------


def test_output_metadata_has_the_keys_dagster_and_upath_use(
    local_config: Any, instance: DagsterInstance, tmp_path: Path
) -> None:
    config = local_config()
    store = tmp_path / "store"
    result = materialize([E.split], instance=instance, resources=_io(config))
    assert result.success
    seg = encode_run_id(result.run_id)
    uri = str(store / f"{MOD}/{seg}/split/left.json")  # a multi_asset: one file per output
    meta = materialization_metadata(instance, result.run_id, "left")
    assert meta == {
        "uri": MetadataValue.path(uri),
        "path": MetadataValue.path(uri),  # UPathIOManager's / FilesystemIOManager's key
        "dagster/uri": MetadataValue.text(uri),  # Dagster's UriMetadataSet key, text as it writes it
        "size_bytes": MetadataValue.int(1),
        "format": MetadataValue.text("json"),
    }
    assert Path(uri).read_text() == "1"
    assert UriMetadataSet.extract(meta).uri == uri  # Dagster's own reader of dagster/uri


# -- data versions ---------------------------------------------------------------------------


def _stale(instance: DagsterInstance, assets: list[Any]) -> dict[str, tuple[StaleStatus, list[str]]]:
    resolver = get_stale_status_resolver(instance, assets)
    return {
        a.key.to_user_string(): (
            resolver.get_status(a.key),
            [f"{c.key.asset_key.to_user_string()} {c.reason}" for c in resolver.get_stale_causes(a.key)],
        )
        for a in assets
    }


def test_data_version_is_the_content_hash_and_dagster_staleness_follows_content(
    local_config: Any, instance: DagsterInstance
) -> None:
    config = local_config()
    fm = FSMirror(config, mirror="project")
    assets = [E.reading, E.summary]

    def run(value: int, selection: list[Any] | None = None) -> str:
        result = materialize(
            assets,
            selection=selection,
            instance=instance,
            resources=_io(config),
            run_config={"ops": {"reading": {"config": {"value": value}}}},
        )
        assert result.success
        man = fm.manifest_uri(_uri(instance, "reading"))
        assert man["run"]["id"] == result.run_id
        expected = content_data_version(man["hash"]["algorithm"], man["hash"]["digest"])
        assert expected == f"blake3:{man['hash']['digest']}"
        tags = _tags(instance, "reading")
        assert tags[DATA_VERSION_TAG] == expected
        assert tags[DATA_VERSION_IS_USER_PROVIDED_TAG] == "true"
        return expected

    first = run(1)
    assert _stale(instance, assets) == {"reading": (StaleStatus.FRESH, []), "summary": (StaleStatus.FRESH, [])}

    # The same content again (another run, no code version): the same data version, and the
    # downstream is not stale (Dagster's own version would be new on every run).
    assert run(1, selection=[E.reading]) == first
    assert _stale(instance, assets) == {"reading": (StaleStatus.FRESH, []), "summary": (StaleStatus.FRESH, [])}

    # Other content from the same code: a new data version, and the downstream is stale.
    changed = run(2, selection=[E.reading])
    assert changed != first
    assert _stale(instance, assets) == {
        "reading": (StaleStatus.FRESH, []),
        "summary": (StaleStatus.STALE, ["summary has a new dependency data version"]),
    }
    assert _tags(instance, "summary")["dagster/input_data_version/reading"] == first


def test_asset_own_data_version_wins_and_content_data_version_can_be_turned_off(
    local_config: Any, instance: DagsterInstance
) -> None:
    config = local_config()
    assert materialize([E.versioned, E.set_in_body], instance=instance, resources=_io(config)).success
    assert _tags(instance, "versioned")[DATA_VERSION_TAG] == "mine"  # Output(data_version=...)
    assert _tags(instance, "set_in_body")[DATA_VERSION_TAG] == "set"  # context.set_data_version(...)

    assert materialize([E.plain], instance=instance, resources=_io(config)).success
    content = _tags(instance, "plain")
    assert content[DATA_VERSION_TAG].startswith("blake3:")
    assert content[DATA_VERSION_IS_USER_PROVIDED_TAG] == "true"

    off = _io(config, content_data_version=False)
    assert materialize([E.plain], instance=instance, resources=off).success
    tags = _tags(instance, "plain")
    assert DATA_VERSION_IS_USER_PROVIDED_TAG not in tags  # Dagster's own, from the code version
    assert not tags[DATA_VERSION_TAG].startswith("blake3:")
    assert json.loads(Path(_uri(instance, "plain")).read_text()) == 7
