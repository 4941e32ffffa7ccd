"""The newest run's manifest is torn: nothing answers with the run before it (issue #22, 3).

The latest hint (local: the pointer; object stores: the run index) names r3, whose manifest no
longer parses. r3 may be the newest run, so ``read``, ``latest``, ``verify`` and ``stale`` fail
with ``StorageError(kind="damaged")`` naming its manifest, instead of reading r2's bytes (which
a StoreWarning on local disk, and nothing at all on S3 and memory, used to say). r2 stays
readable by its run id.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsmirror import StorageError
from fsmirror.cli import cli
from fsmirror.services.staleness import staleness
from fsmirror.services.verify import verify
from storage.promises_support import ADDR, cli_config, manifest_path, put_bytes, raw, stored

pytestmark = pytest.mark.parametrize("provider", ["local", "memory", "s3"])

TORN = 40  # bytes of the manifest kept: it no longer parses
R3_CELL = "project/etl/my_etl_task/r3/LiftDataTask/_out.manifest.json"


def torn_store(make_mirror):  # type: ignore[no-untyped-def]
    fm = make_mirror(output_format="json")
    for r in ("r1", "r2", "r3"):
        fm.write(ADDR, {"run": r}, run_id=r)
    path = manifest_path(fm, ADDR, "r3")
    put_bytes(fm, path, raw(fm, path)[:TORN])
    return make_mirror(output_format="json")


def test_read_and_latest_fail_typed_and_the_previous_run_stays_readable(make_mirror) -> None:
    fm = torn_store(make_mirror)
    before = stored(fm)
    for call in (lambda: fm.read(ADDR), lambda: fm.latest(ADDR), lambda: fm.manifest(ADDR)):
        with pytest.raises(StorageError, match=R3_CELL) as info:
            call()
        assert info.value.kind == "damaged"
        assert "newest run" in str(info.value) and "(r3)" in str(info.value)
    assert fm.read(ADDR, run_id="r2") == {"run": "r2"}
    assert fm.read(ADDR, run_id="r1") == {"run": "r1"}
    assert stored(fm) == before  # nothing repaired over the damage, nothing deleted


def test_verify_fails_on_the_torn_manifest(make_mirror, tmp_path: Path) -> None:
    fm = torn_store(make_mirror)
    with pytest.warns(UserWarning, match=R3_CELL):
        results = verify(fm)
    assert [(r.segment, r.ok) for r in results] == [("r1", True), ("r2", True), ("r3", False)]
    assert results[-1].uri.endswith(R3_CELL) and results[-1].address == ADDR
    assert "the manifest cannot be read" in str(results[-1].problem)

    cfg = cli_config(fm, tmp_path)
    out = CliRunner().invoke(cli, ["--config", str(cfg), "verify"])
    # the CLI prints each warning as one line on stderr, not through Python's warning machinery
    assert re.search("^fsmirror: warning: StoreWarning: .*" + R3_CELL, out.stderr, re.M), out.stderr
    assert out.exit_code == 1, out.output
    assert f"MISMATCH {fm.base}/{R3_CELL}: the manifest cannot be read" in out.stdout
    assert "1 of 3 artifact(s)" in out.output and "every size" not in out.output


def test_stale_fails_typed_instead_of_judging_the_previous_run(make_mirror, tmp_path: Path) -> None:
    fm = torn_store(make_mirror)
    with pytest.warns(UserWarning, match=R3_CELL), pytest.raises(StorageError, match=R3_CELL) as info:
        staleness(fm)
    assert info.value.kind == "damaged"

    cfg = cli_config(fm, tmp_path)
    out = CliRunner().invoke(cli, ["--config", str(cfg), "stale", ADDR])
    # the CLI prints each warning as one line on stderr, not through Python's warning machinery
    assert re.search("^fsmirror: warning: StoreWarning: .*" + R3_CELL, out.stderr, re.M), out.stderr
    assert out.exit_code == 1, out.output
    assert out.stderr.splitlines()[-1].startswith(
        "fsmirror: error: the newest run of project/etl/my_etl_task.py::LiftDataTask"
    ), out.stderr
    assert "run r2" not in out.stdout  # r2 is not judged as the latest run


def test_a_torn_older_run_leaves_every_answer_standing(make_mirror, tmp_path: Path) -> None:
    """Only a hint that names the unreadable run stops an answer: r1 torn, r3 still answers."""
    fm = make_mirror(output_format="json")
    for r in ("r1", "r2", "r3"):
        fm.write(ADDR, {"run": r}, run_id=r)
    path = manifest_path(fm, ADDR, "r1")
    put_bytes(fm, path, raw(fm, path)[:TORN])
    after = make_mirror(output_format="json")
    assert (after.latest(ADDR), after.read(ADDR)) == ("r3", {"run": "r3"})
    with pytest.warns(UserWarning):
        assert [s.run for s in staleness(after)] == ["r3"]
    with pytest.warns(UserWarning):
        assert [(r.segment, r.ok) for r in verify(after)] == [("r2", True), ("r3", True), ("r1", False)]
