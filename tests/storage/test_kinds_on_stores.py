"""On real stores: ``exists()`` and ``gc`` decide on a damaged cell by the error's ``kind``.

A damaged cell (a manifest that does not parse) raises ``StorageError(kind="damaged")``:
``exists()`` says False and gc skips the run with a warning. A store failure whose message
merely contains the word "damaged" is no such cell: it is raised, not swallowed. Faults are
injected with ``tests/faultfs.py`` around the real backend (no mocks).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from faultfs import Call, Controller, Fail, Proceed, acting, install
from fsmirror import StorageError, StoreWarning
from fsmirror.store.backends import _error_codes
from storage.promises_support import ADDR, manifest_path, put_bytes, raw

TORN = 40  # bytes of the manifest's JSON kept: it no longer parses


def three_runs(make_mirror: Any) -> Any:
    fm = make_mirror(output_format="json")
    for r in ("r1", "r2", "r3"):
        fm.write(ADDR, {"run": r}, run_id=r)
    return make_mirror(output_format="json")


def tear(fm: Any, run: str) -> None:
    path = manifest_path(fm, ADDR, run)
    put_bytes(fm, path, raw(fm, path)[:TORN])


class AtSecondRead(Controller):
    """Acts on r1's cell between gc's listing read of it and its delete's read.

    gc reads every cell to order the runs (read 1), then each delete reads its cell again
    under the slot lock (read 2). ``tear``: damage the cell once read 1 has returned, as a
    torn write landing in between would; ``fail``: make read 2 raise what ``fail`` builds.
    """

    def __init__(self, fm: Any, *, fail: Any = None) -> None:
        super().__init__()
        self.fm, self.fail, self.reads = fm, fail, 0

    @staticmethod
    def _is_r1_cell(call: Call) -> bool:
        return call.method == "get" and str(call.args[0]).endswith("/r1/LiftDataTask/_out.manifest.json")

    def before(self, call: Call) -> Any:
        if self._is_r1_cell(call):
            self.reads += 1
            if self.reads == 2 and self.fail is not None:
                return Fail(self.fail, "StorageError")
        return Proceed()

    def after(self, call: Call) -> Any:
        if self._is_r1_cell(call) and self.reads == 1 and self.fail is None:
            tear(self.fm, "r1")
        return Proceed()


def test_a_damaged_cell_raises_the_damaged_kind(make_mirror) -> None:
    fm = three_runs(make_mirror)
    tear(fm, "r1")
    with pytest.raises(StorageError) as info:
        fm.read(ADDR, run_id="r1")
    assert info.value.kind == "damaged" and type(info.value) is StorageError
    assert re.search(r"_out\.manifest\.json is damaged or not an fsmirror manifest", str(info.value))


def test_exists_is_false_for_a_damaged_cell(make_mirror, provider: str) -> None:
    fm = three_runs(make_mirror)
    tear(fm, "r1")
    # Local: exists() is one stat of the cell (a local cell is only ever a manifest or a pending
    # overwrite), so it does not read the record; object stores read it and find it damaged.
    assert fm.exists(ADDR, run_id="r1") is (provider == "local")
    assert fm.exists(ADDR, run_id="r2")


@pytest.mark.parametrize("provider", ["memory", "s3"], indirect=True)
def test_exists_raises_a_store_error_that_only_says_damaged(make_mirror) -> None:
    fm = three_runs(make_mirror)
    made = StorageError("the disk says: damaged sector")  # the word, not the kind
    install(fm, Controller({"reader": {(0, "before"): Fail(lambda: made, "StorageError")}}))
    with acting("reader"), pytest.raises(StorageError, match="damaged sector") as info:
        fm.exists(ADDR, run_id="r1")
    assert info.value.kind is None


def test_gc_skips_a_cell_damaged_under_it_with_a_warning(make_mirror) -> None:
    """gc lists r1 and r2 as old; r1's cell is torn just before its delete: skipped, r2 deleted."""
    fm = three_runs(make_mirror)
    install(fm, AtSecondRead(fm))
    with acting("gc"), pytest.warns(StoreWarning, match=r"gc skipped .*r1.*is damaged"):
        assert fm.gc(ADDR, keep=1) == ["r2"]
    with pytest.raises(StorageError) as info:
        fm.read(ADDR, run_id="r1")
    assert info.value.kind == "damaged"
    assert fm.read(ADDR) == {"run": "r3"}


def test_gc_raises_a_store_error_that_only_says_damaged(make_mirror) -> None:
    fm = three_runs(make_mirror)
    install(fm, AtSecondRead(fm, fail=lambda: StorageError("the disk says: damaged sector")))
    with acting("gc"), pytest.raises(StorageError, match="damaged sector"):
        fm.gc(ADDR, keep=1)
    assert fm.runs(ADDR) == ["r1", "r2", "r3"]


@pytest.mark.parametrize("provider", ["s3"], indirect=True)
def test_s3_errors_are_told_apart_by_their_code(make_mirror) -> None:
    """s3fs turns a ClientError into a builtin error with the server's prose as its message; the
    code (what ``copy`` and the conditional writes decide on) is on the chained ClientError."""
    fm = make_mirror(output_format="json")
    uri = fm.write(ADDR, {"run": "r1"}, run_id="r1")
    backend = fm.store.backend
    bucket, key = backend._split(uri)
    with pytest.raises(OSError) as missing:
        backend.fs.call_s3("copy_object", Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": "nope"})
    assert _error_codes(missing.value) == {"NoSuchKey"}
    with pytest.raises(OSError) as onto_itself:  # S3 refuses a copy onto itself that changes nothing
        backend.fs.call_s3("copy_object", Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key})
    assert _error_codes(onto_itself.value) == {"InvalidRequest"}
    assert "InvalidRequest" not in str(onto_itself.value)  # the old text check could not see it
    assert json.loads(raw(fm, uri)) == {"run": "r1"}
