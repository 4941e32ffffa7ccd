"""Write and read on every provider: the same tests, real servers, asserting on what landed."""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from blake3 import blake3

from fsmirror import ArtifactExistsError, ArtifactNotFoundError, FormatError

ADDR = "project/etl/my_etl_task.py::LiftDataTask"


@dataclass
class Model:
    weights: list[float]


def raw(fm, uri: str) -> bytes:
    return bytes(fm.filesystem.cat_file(uri))


def test_parquet_lands_at_the_mirrored_path_and_reads_without_fsmirror(make_mirror) -> None:
    fm = make_mirror()
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    uri = fm.write(ADDR, df, run_id="run42")
    assert uri == fm.mirror_full_output(ADDR, run_id="run42")
    assert uri.endswith("project/etl/my_etl_task/run42/LiftDataTask/out.parquet")
    table = pq.read_table(io.BytesIO(raw(fm, uri)))  # plain pyarrow, no fsmirror
    assert table.column("b").to_pylist() == ["x", "y", "z"]
    back = fm.read(ADDR, run_id="run42")
    pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ({"rows": 3, "ok": True, "names": ["a", "b"]}, "json"),
        (b"\x00\x01binary", "bytes"),
        ("héllo text", "txt"),
        (Model([0.5, 1.5]), "pkl"),
        ([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}], "csv"),
    ],
)
def test_every_format_round_trips(make_mirror, value, fmt: str) -> None:
    fm = make_mirror(output_format=fmt)
    uri = fm.write(ADDR, value, run_id="r1")
    assert uri.endswith(f"/LiftDataTask/out.{fmt}")
    back = fm.read(ADDR, run_id="r1")
    if fmt == "csv":
        assert back == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    else:
        assert back == value
    if fmt == "pkl":
        assert pickle.loads(raw(fm, uri)) == value  # a plain pickle


def test_pyarrow_table_and_auto_format(make_mirror) -> None:
    fm = make_mirror(output_format="pkl")
    table = pa.table({"x": [1, 2]})
    uri = fm.write(ADDR, table, run_id="t", format="auto")
    assert uri.endswith("/out.parquet")
    assert fm.read(ADDR, run_id="t").equals(table)
    assert fm.write(ADDR, {"k": 1}, run_id="j", format="auto").endswith("/out.json")
    assert fm.write(ADDR, b"b", run_id="b", format="auto").endswith("/out.bytes")


def test_fallback_is_visible_in_extension_and_manifest(make_mirror) -> None:
    fm = make_mirror()  # parquet mirror
    uri = fm.write(ADDR, 41, run_id="n")
    assert uri.endswith("/LiftDataTask/out.json") and json.loads(raw(fm, uri)) == 41
    man = fm.manifest(ADDR, run_id="n")
    assert (man["format"], man["requested_format"], man["fell_back"]) == ("json", "parquet", True)
    assert fm.read(ADDR, run_id="n") == 41
    uri = fm.write(ADDR, Model([1.0]), run_id="m")
    assert uri.endswith("/out.pkl") and fm.read(ADDR, run_id="m") == Model([1.0])


def test_strict_format_refuses_and_writes_nothing(make_mirror) -> None:
    fm = make_mirror(strict_format=True)
    with pytest.raises(FormatError, match="cannot hold a builtins.int.*strict_format"):
        fm.write(ADDR, 41, run_id="n")
    assert not fm.exists(ADDR, run_id="n")
    assert fm.latest(ADDR) is None


def test_allow_pickle_false(make_mirror) -> None:
    fm = make_mirror(allow_pickle=False)
    with pytest.raises(FormatError, match="allow_pickle: false"):
        fm.write(ADDR, Model([1.0]), run_id="p")
    assert not fm.exists(ADDR, run_id="p")


def test_never_overwrites_silently(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    uri = fm.write(ADDR, {"v": 1}, run_id="r")
    with pytest.raises(ArtifactExistsError, match="committed already.*overwrite=True"):
        fm.write(ADDR, {"v": 2}, run_id="r")
    assert json.loads(raw(fm, uri)) == {"v": 1}  # old bytes intact
    fm.write(ADDR, {"v": 3}, run_id="r", overwrite=True)
    assert fm.read(ADDR, run_id="r") == {"v": 3}


def test_overwrite_with_another_format_leaves_one_artifact(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, {"v": 1}, run_id="r")
    fm.write(ADDR, b"raw", run_id="r", format="bytes", overwrite=True)
    names = sorted(p.rsplit("/", 1)[-1] for p in fm.filesystem.find(fm.mirror_full(ADDR, run_id="r")))
    assert names == ["_out.manifest.json", "out.bytes"]
    assert fm.read(ADDR, run_id="r") == b"raw"


def test_manifest_records_what_made_it(make_mirror) -> None:
    fm = make_mirror(output_format="bytes")
    payload = b"x" * 1000
    uri = fm.write(ADDR, payload, run_id=("dag", "manual__1+2"), run_source="airflow", orchestrator={"task_id": "t"})
    man = fm.manifest_uri(uri)
    digest = blake3(payload).hexdigest()
    assert man["hash"] == {"algorithm": "blake3", "digest": digest} and blake3(raw(fm, uri)).hexdigest() == digest
    assert man["size"] == 1000 and man["format"] == "bytes" and man["uri"] == uri
    assert man["run"] == {"id": ["dag", "manual__1+2"], "segment": "dag@manual__1~2B2", "source": "airflow"}
    assert man["orchestrator"] == {"task_id": "t"}
    assert man["code"]["address"] == "project/etl/my_etl_task.py::LiftDataTask"
    assert man["code"]["qualname"] == "LiftDataTask" and man["mirror"] == "project"
    assert man["created_at"].endswith("+00:00") and man["versions"]["fsmirror"]
    # the manifest sits beside the artifact, hidden from dataset readers by its leading underscore
    assert fm.filesystem.exists(uri.rsplit("/", 1)[0] + "/_out.manifest.json")


def test_run_source_defaults(make_mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, 1, run_id="a")
    assert fm.manifest(ADDR, run_id="a")["run"]["source"] == "argument"
    fm.write(ADDR, 1)
    assert fm.manifest(ADDR, run_id=fm.run_id)["run"]["source"] == "generated"


def test_latest_and_runs(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    assert fm.latest(ADDR) is None and fm.runs(ADDR) == []
    for r in ["c", "a", "b"]:
        fm.write(ADDR, {"r": r}, run_id=r)
    assert fm.runs(ADDR) == ["c", "a", "b"]  # oldest first, not alphabetical
    assert fm.latest(ADDR) == "b"
    assert fm.read(ADDR) == {"r": "b"}  # run_id="latest" by default
    fm.write("project/etl/my_etl_task.py::Other", 0, run_id="z")  # a sibling task does not leak in
    assert fm.runs(ADDR) == ["c", "a", "b"]


def test_latest_is_a_verified_hint_not_a_listing(make_mirror, provider) -> None:
    from fsmirror import names
    from fsmirror.model.record import order_key

    fm = make_mirror(output_format="json")
    uri = fm.write(ADDR, 1, run_id="r1")
    series = fm.mirror_full(ADDR, with_id=False)
    order = order_key(uri.manifest.created_at, "r1")
    if provider == "local":  # a pointer
        assert json.loads(raw(fm, names.pointer_file(series, "out"))) == {"segment": "r1", "order": order}
    else:  # the run index: one empty entry per commit, named so a listing is newest first
        assert raw(fm, f"{names.index_dir(series, 'out')}/{order}") == b""
    assert fm.latest(ADDR) == "r1"


def test_delete_moves_latest_back(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, 1, run_id="r1")
    fm.write(ADDR, 2, run_id="r2")
    assert fm.delete(ADDR, run_id="r2") is True
    assert fm.latest(ADDR) == "r1" and not fm.exists(ADDR, run_id="r2")
    assert fm.delete(ADDR, run_id="r2") is False


def test_missing_artifacts_name_the_path(make_mirror) -> None:
    fm = make_mirror()
    with pytest.raises(ArtifactNotFoundError, match=r"no committed artifact at .*/nope/LiftDataTask/out\.\*"):
        fm.read(ADDR, run_id="nope")
    with pytest.raises(ArtifactNotFoundError, match="no committed run of project/etl/my_etl_task.py::LiftDataTask"):
        fm.read(ADDR)
    with pytest.raises(FileNotFoundError):  # a builtin handler works too
        fm.read(ADDR, run_id="nope")


def test_partitions_and_output_names_are_separate_series(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, 1, run_id="r", partition="2026-01-01")
    fm.write(ADDR, 2, run_id="r", partition="2026-01-02")
    fm.write(ADDR, 3, run_id="r", output_name="metrics")
    assert fm.read(ADDR, run_id="r", partition="2026-01-02") == 2
    assert fm.read(ADDR, output_name="metrics") == 3
    assert fm.runs(ADDR, partition="2026-01-01") == ["r"]
    assert fm.latest(ADDR) is None  # no un-partitioned, default-output artifact was written


def test_open_write_commits_only_on_clean_exit(make_mirror) -> None:
    fm = make_mirror()
    with pytest.raises(RuntimeError), fm.open_write(ADDR, run_id="x", format="txt") as f:
        f.write(b"partial")
        raise RuntimeError("task failed")
    assert not fm.exists(ADDR, run_id="x")
    assert not fm.filesystem.exists(fm.mirror_full_output(ADDR, run_id="x", output_format="txt"))
    with fm.open_write(ADDR, run_id="x", format="txt") as f:
        f.write(b"whole")
    assert fm.read(ADDR, run_id="x") == "whole"


def test_layout_with_runs_under_the_task(make_mirror) -> None:
    fm = make_mirror(output_format="json", layout="{module}/{name}/{run_id}")
    fm.write(ADDR, 1, run_id="r1")
    fm.write(ADDR, 2, run_id="r2")
    assert fm.runs(ADDR) == ["r1", "r2"] and fm.latest(ADDR) == "r2"
    assert fm.artifact_uri(ADDR).endswith("/my_etl_task/LiftDataTask/r2/out.json")


def test_no_scratch_files_beside_artifacts(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, 1, run_id="r1")
    run_dir = fm.mirror_full(ADDR, run_id="r1")
    names = sorted(p.rsplit("/", 1)[-1] for p in fm.filesystem.find(run_dir))
    assert names == ["_out.manifest.json", "out.json"]


def test_large_numpy_values_pickle_and_hash_their_buffers(make_mirror) -> None:
    """Pickle protocol 5 hands numpy's buffers to the writer out of band: they hash as their bytes."""
    import numpy as np

    fm = make_mirror(output_format="pkl")
    a = np.arange(600_000, dtype=np.float64).reshape(200, 3000)
    fm.write(ADDR, {"a": a, "t": a.T, "f": pd.DataFrame({"x": np.arange(10)})}, run_id="r1")
    got = fm.read(ADDR, run_id="r1")
    assert (got["a"] == a).all() and (got["t"] == a.T).all() and got["f"]["x"].tolist() == list(range(10))
