"""The store's promises, issue #12: damage is reported, never returned and never a raw error.

A truncated or tampered artifact is an ``fsmirror.IntegrityError`` (a ``StorageError``)
that says what is wrong; a damaged manifest, an undecodable directory or a damaged
artifact raise fsmirror's errors (not ``UnicodeDecodeError``, ``KeyError``,
``ArrowInvalid``, ``ValueError``), and listings (``runs()``, ``fsmirror ls``) skip
what they cannot read with a warning naming it. The warning class will be
``fsmirror.StoreWarning``, a ``UserWarning``: the tests ask for ``UserWarning``.
"""

from __future__ import annotations

import json
import os
import re

import pyarrow as pa
import pytest

import fsmirror
from fsmirror import StorageError, names
from storage.promises_support import ADDR, all_of, ls_json_warned, manifest_path, put_bytes, raw

PAYLOAD = bytes(range(256)) * 16 + b"xyz"  # 4099 bytes
CUT = 1234


def where(uri: str) -> str:
    """The URI without its scheme: what a message names whether it prints ``s3://b/k`` or ``b/k``."""
    return uri.split("://", 1)[-1]


def number(n: int) -> str:
    """A ``match=`` lookahead for ``n`` as a number on its own (not inside ``pytest-1234``)."""
    return rf"(?=.*(?<![\w.-]){n}(?!\w))"


def write_runs(fm, runs, addr=ADDR) -> None:
    for r in runs:
        fm.write(addr, {"run": r}, run_id=r)


def test_read_of_a_truncated_artifact_raises_integrity_error_naming_uri_and_sizes(
    make_mirror, provider: str
) -> None:
    """Issue #12: "`read()` must not return a truncated file silently: truncate the artifact
    (local) / re-put a shorter object → read raises `fsmirror.IntegrityError` (new error,
    subclass of StorageError) whose message names the URI, the recorded size and the found size."
    """
    fm = make_mirror(output_format="bytes")
    uri = fm.write(ADDR, PAYLOAD, run_id="r1")
    assert fm.manifest(ADDR, run_id="r1")["size"] == len(PAYLOAD)
    if provider == "local":
        os.truncate(uri, CUT)
    else:
        put_bytes(fm, uri, PAYLOAD[:CUT])
    after = make_mirror(output_format="bytes")
    integrity_error = fsmirror.IntegrityError
    assert issubclass(integrity_error, fsmirror.StorageError)
    says = all_of(where(uri)) + number(len(PAYLOAD)) + number(CUT)
    with pytest.raises(integrity_error, match=says):
        after.read(ADDR, run_id="r1")
    with pytest.raises(integrity_error, match=says):
        after.read(ADDR)  # the latest run: the same artifact
    with pytest.raises(integrity_error, match=says):
        after.read_uri(uri)


def test_verify_read_of_a_same_size_tampered_artifact_raises_integrity_error_naming_the_hash(
    make_mirror,
) -> None:
    """Issue #12: "With the mirror setting `verify: true`, a same-size tampered artifact (flip one
    byte) raises IntegrityError naming the hash."

    The hash is matched by its first 12 hex digits: a message may print it whole or shortened.
    """
    fm = make_mirror(output_format="bytes", verify=True)
    uri = fm.write(ADDR, PAYLOAD, run_id="r1")
    sha = fm.manifest(ADDR, run_id="r1")["hash"]["digest"]
    flipped = bytearray(PAYLOAD)
    flipped[100] ^= 0x01
    put_bytes(fm, uri, bytes(flipped))
    after = make_mirror(output_format="bytes", verify=True)
    with pytest.raises(fsmirror.IntegrityError, match=all_of(where(uri), sha[:12])):
        after.read(ADDR, run_id="r1")
    with pytest.raises(fsmirror.IntegrityError, match=all_of(where(uri), sha[:12])):
        after.read_uri(uri)


def test_undecodable_run_directory_is_skipped_with_a_warning_by_runs_gc_and_ls(make_mirror, tmp_path) -> None:
    """Issue #12: "Raw errors: undecodable directory names (`~FF` as a run directory with a
    manifest inside) ...: no UnicodeDecodeError ... escape; listings (`runs()`, `fsmirror ls` ...)
    skip damaged entries with a warning."

    ``~FF`` decodes to the byte 0xFF, which is no UTF-8: the directory holds a copy of run r1
    (artifact and manifest) as if written there.
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2"])
    r1_dir = fm.mirror_full(ADDR, run_id="r1")
    bad_dir = r1_dir.replace("/r1/", "/~FF/")
    manifest = json.loads(raw(fm, manifest_path(fm, ADDR, "r1")))
    manifest["run"].update(id="~FF", segment="~FF")
    manifest["uri"] = names.artifact_file(bad_dir, "out", "json")
    put_bytes(fm, manifest["uri"], raw(fm, names.artifact_file(r1_dir, "out", "json")))
    put_bytes(fm, names.manifest_file(bad_dir, "out"), json.dumps(manifest).encode())
    after = make_mirror(output_format="json")
    damaged = re.escape("project/etl/my_etl_task/~FF")
    with pytest.warns(UserWarning, match=damaged):
        assert after.runs(ADDR) == ["r1", "r2"]
    rows, err = ls_json_warned(after, tmp_path)
    assert [row["segment"] for row in rows] == ["r1", "r2"]
    assert re.search("^fsmirror: warning: StoreWarning: .*" + damaged, err, re.M), err
    assert (after.latest(ADDR), after.read(ADDR)) == ("r2", {"run": "r2"})
    with pytest.warns(UserWarning, match=damaged):
        assert after.gc(ADDR, keep=0) == ["r1"]


DAMAGED_MANIFESTS = ["no-format", "not-json"]


@pytest.mark.parametrize("damage", DAMAGED_MANIFESTS)
def test_damaged_manifest_fails_reads_with_storage_error_and_listings_skip_it_with_a_warning(
    make_mirror, provider, tmp_path, damage: str
) -> None:
    """Issue #12: "Raw errors: ... a manifest without `format`, a manifest that is not JSON ...: no
    ... KeyError ... ValueError escape; listings (`runs()`, `fsmirror ls` ...) skip damaged
    entries with a warning."

    The older run's manifest is damaged; the newest stays readable. The read's error and the
    listings' warning name the damaged run's directory.
    """
    fm = make_mirror(output_format="json")
    write_runs(fm, ["r1", "r2"])
    manifest = manifest_path(fm, ADDR, "r1")
    if damage == "no-format":
        record = json.loads(raw(fm, manifest))
        del record["format"]
        body = json.dumps(record).encode()
    else:  # a torn write of the manifest: the start of the JSON only
        body = raw(fm, manifest)[:40]
    put_bytes(fm, manifest, body)
    after = make_mirror(output_format="json")
    slot = re.escape("project/etl/my_etl_task/r1/LiftDataTask")
    with pytest.raises(StorageError, match=slot):
        after.read(ADDR, run_id="r1")
    if provider == "local" or damage == "not-json":
        # local runs() reads each manifest; object stores read a cell too small to be a manifest
        with pytest.warns(UserWarning, match=slot):
            assert after.runs(ADDR) == ["r2"]
    else:  # runs() costs its listings, no read per run: the index vouches for r1, its read fails
        assert after.runs(ADDR) == ["r1", "r2"]
    rows, err = ls_json_warned(after, tmp_path)
    assert [row["segment"] for row in rows] == ["r2"]
    assert re.search("^fsmirror: warning: StoreWarning: .*" + slot, err, re.M), err
    assert (after.latest(ADDR), after.read(ADDR)) == ("r2", {"run": "r2"})


def test_damaged_parquet_artifact_read_raises_storage_error_not_arrow_invalid(make_mirror) -> None:
    """Issue #12: "Raw errors: ... damaged parquet bytes ...: read must raise StorageError or
    IntegrityError, not ArrowInvalid."

    The bytes are replaced by as many zero bytes, so the size still matches the manifest.
    """
    fm = make_mirror()  # parquet
    uri = fm.write(ADDR, pa.table({"a": list(range(100))}), run_id="r1")
    put_bytes(fm, uri, b"\0" * len(raw(fm, uri)))
    after = make_mirror()
    with pytest.raises(StorageError, match=re.escape(where(uri))):
        after.read(ADDR, run_id="r1")
    with pytest.raises(StorageError, match=re.escape(where(uri))):
        after.read_uri(uri)
