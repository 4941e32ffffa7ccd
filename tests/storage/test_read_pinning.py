"""A streamed read sees one whole version of an artifact, or an error: never old bytes then new.

S3 artifacts over ``Store.single_read_max`` (8 MiB) are streamed in blocks. They were opened
with s3fs's ``size=``, which turns its ETag pinning off: an overwrite committed mid-read gave
6 MiB of the old bytes then 3 MiB of the new, with ``verify: true`` and no error. Here the
S3 artifacts are just over 8 MiB (the threshold of the code before the fix, fixed there) read in
1 MiB blocks; local, memory, the GCS emulator and Azurite use 40 KiB with the threshold lowered
(``single_read_max``) and, on GCS and Azure, 4 KiB blocks (``read_block``). The overwrite
commits between two blocks of one reader.
"""

from __future__ import annotations

from typing import Any

import pytest

from fsmirror import FSMirror, IntegrityError

ADDR = "project/etl/mod.py::Task"
BLOCK = 1 << 20


def _values(storage: dict[str, Any]) -> tuple[bytes, bytes]:
    n = (8 << 20) + (64 << 10) if storage["provider"] == "s3" else 40 << 10
    return bytes(range(256)) * (n // 256), bytes(reversed(range(256))) * (n // 256)


def _mirror(storage: dict[str, Any]) -> FSMirror:
    fm = FSMirror(
        {
            "storage": storage,
            "mirrors": {"project": {"root": "project", "output_format": "bytes", "verify": True}},
        }
    )
    fm.store.single_read_max = 16 << 10  # stream, as an artifact over 8 MiB is
    if storage["provider"] in ("gcs", "blob"):
        fm.store.backend.read_block = 4096  # type: ignore[attr-defined]
    return fm


@pytest.fixture(params=["s3", "local", "memory", "gcs", "blob"])
def storage(request: pytest.FixtureRequest, tmp_path: Any) -> dict[str, Any]:
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        opts = {**server.storage_options(), "default_block_size": BLOCK}
        return {"provider": "s3", "tenant": server.new_bucket(), "storage_options": opts}
    if request.param in ("gcs", "blob"):
        server = request.getfixturevalue({"gcs": "gcs_server", "blob": "azurite_server"}[request.param])
        return {
            "provider": request.param,
            "tenant": server.new_bucket(),
            "storage_options": server.storage_options(),
        }
    if request.param == "local":
        return {"provider": "local", "tenant": str(tmp_path / "store")}
    import uuid

    return {"provider": "memory", "tenant": f"pin-{uuid.uuid4().hex[:12]}"}


def test_an_overwrite_committed_mid_read_never_mixes_versions(storage: dict[str, Any]) -> None:
    reader, writer = _mirror(storage), _mirror(storage)
    OLD, NEW = _values(storage)
    writer.write(ADDR, OLD, run_id="r1", format="bytes")

    f = reader.open_read(ADDR, run_id="r1")
    try:
        first = f.read(4096)
        assert first == OLD[:4096]
        writer.write(ADDR, NEW, run_id="r1", format="bytes", overwrite=True)  # commits mid-read
        try:
            rest = f.read()
        except IntegrityError as e:
            assert "was replaced while it was read" in str(e)
        else:
            assert first + rest == OLD, "the reader got old bytes then new ones"
    finally:
        f.close()
    assert reader.read(ADDR, run_id="r1") == NEW


def test_a_streamed_read_after_the_overwrite_is_whole(storage: dict[str, Any]) -> None:
    """Pinning refuses nothing it should not: reads that do not straddle a commit are whole."""
    reader, writer = _mirror(storage), _mirror(storage)
    OLD, NEW = _values(storage)
    writer.write(ADDR, OLD, run_id="r1", format="bytes")
    with reader.open_read(ADDR, run_id="r1") as f:
        assert f.read() == OLD
    writer.write(ADDR, NEW, run_id="r1", format="bytes", overwrite=True)
    with reader.open_read(ADDR, run_id="r1") as f:
        assert f.read() == NEW
