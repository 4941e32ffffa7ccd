"""Adapters' records beside an artifact go through the store (``Store.get_sidecar``/``put_sidecar``).

A sidecar is one whole object written by one request, deleted with its run; the store refuses any
other name (an artifact, a cell, a hint) and any place outside the tenant, so an adapter's record
can never write over what the protocol owns.
"""

from __future__ import annotations

import pytest

from fsmirror import ResolveError, StorageError
from fsmirror.paths import names
from storage.promises_support import ADDR


@pytest.fixture(params=["local", "memory", "s3"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_sidecar_round_trips_and_goes_with_its_run(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    uri = fm.write(ADDR, {"v": 1}, run_id="R")
    directory = uri.rpartition("/")[0]
    path = names.sidecar_file(directory, "out", "prefect_0123")
    assert fm.store.get_sidecar(path) is None
    fm.store.put_sidecar(path, b'{"a": 1}')
    fm.store.put_sidecar(path, b'{"a": 2}')  # whole objects: the second replaces the first
    assert fm.store.get_sidecar(path) == b'{"a": 2}'
    assert fm.delete(ADDR, run_id="R") is True
    assert fm.store.get_sidecar(path) is None


@pytest.mark.parametrize("name", ["out.json", "_out.manifest.json", "_latest.out.json", "_x.json"])
def test_only_sidecar_names_are_written(make_mirror, name: str) -> None:
    fm = make_mirror(output_format="json")
    uri = fm.write(ADDR, {"v": 1}, run_id="R")
    directory = uri.rpartition("/")[0]
    with pytest.raises(ResolveError, match="is not a sidecar file name"):
        fm.store.put_sidecar(f"{directory}/{name}", b"{}")
    assert fm.read(ADDR, run_id="R") == {"v": 1}  # the artifact and its cell are untouched


def test_a_sidecar_outside_the_tenant_is_refused(make_mirror, provider: str, tmp_path) -> None:
    fm = make_mirror(output_format="json")
    outside = str(tmp_path / "elsewhere") if provider == "local" else "not-my-bucket/x"
    with pytest.raises((ResolveError, StorageError)):
        fm.store.put_sidecar(names.sidecar_file(outside, "out", "prefect_0123"), b"{}")
