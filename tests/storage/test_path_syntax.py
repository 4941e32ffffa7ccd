"""Driver path syntax never reaches a request: a name that reads as URL syntax is refused first.

s3fs cuts a key at ``?versionId=``: the code address below puts its data at
``.../mod/r1/Task/out.bytes?versionId=z/...``, which s3fs sent as ``.../mod/r1/Task/out.bytes``:
the bytes of ``project/etl/mod.py::Task`` run r1. adlfs cuts at ``?versionid=`` (it keeps a
``#``). gcsfs, version aware, reads only an all-digit ``#`` or ``?generation=`` tail, which a
key ending in a file name never has: on GCS, '?' and '#' in names are fine data. Every backend asks its driver how
it would split a path (locally) and refuses any disagreement with a typed error before the
first request; the victim's bytes and manifest stay as they were.
"""

from __future__ import annotations

from typing import Any

import pytest

from fsmirror import FSMirror, ResolveError
from fsmirror.store.backends import Backend

VICTIM = "project/etl/mod.py::Task"

# One address per driver rule; each maps a key onto the victim's data (or its run directory).
HOSTILE = {
    "s3": "project/etl/mod/r1/Task/out.bytes?versionId=z/m.py::X",
    "blob": "project/etl/mod/r1/Task/out.bytes?versionid=z/m.py::X",
}


class Counting:
    """Delegates to a real backend and records every request method called."""

    def __init__(self, target: Backend) -> None:
        self._target = target
        self.requests: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name not in Backend.REQUESTS:
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            self.requests.append((name, str(args[0]) if args else ""))
            return attr(*args, **kw)

        return call


def _mirror(server: Any, provider: str, **options: Any) -> FSMirror:
    storage = {
        "provider": provider,
        "tenant": server.new_bucket(),
        "storage_options": {**server.storage_options(), **options},
    }
    return FSMirror(
        {"storage": storage, "mirrors": {"project": {"root": "project", "output_format": "bytes"}}}
    )


@pytest.mark.parametrize(
    ("provider", "server", "hostile", "options"),
    [
        ("s3", "s3_server", "s3", {}),
        ("s3", "s3_server", "s3", {"version_aware": True}),
        ("blob", "azurite_server", "blob", {}),
    ],
)
def test_a_name_the_driver_would_split_is_refused_before_any_request(
    request: pytest.FixtureRequest, provider: str, server: str, hostile: str, options: dict[str, Any]
) -> None:
    fm = _mirror(request.getfixturevalue(server), provider, **options)
    fm.write(VICTIM, b"the victim's bytes", run_id="r1", format="bytes")
    before = fm.manifest(VICTIM, run_id="r1")
    counting = Counting(fm.store.backend)
    fm.store.backend = counting  # type: ignore[assignment]

    for overwrite in (False, True):
        with pytest.raises(ResolveError, match="refusing .* driver reads it as"):
            fm.write(HOSTILE[hostile], b"hostile", run_id="r1", format="bytes", overwrite=overwrite)
    assert counting.requests == []

    fm.store.backend = counting._target
    assert fm.read(VICTIM, run_id="r1") == b"the victim's bytes"
    assert fm.manifest(VICTIM, run_id="r1") == before
    assert fm.runs(VICTIM) == ["r1"]


@pytest.mark.parametrize(
    ("provider", "server"), [("s3", "s3_server"), ("gcs", "gcs_server"), ("blob", "azurite_server")]
)
def test_names_the_driver_reads_as_they_are_still_work(
    request: pytest.FixtureRequest, provider: str, server: str
) -> None:
    """Refusal is by the driver's own reading: '?', '#' and '[' it takes literally stay fine data."""
    fm = _mirror(request.getfixturevalue(server), provider)
    fine = {
        "gcs": "project/etl/a?b#c[d].py::T",
        "s3": "project/etl/a#c[d]?e.py::T",
        "blob": "project/etl/a#c?e[d].py::T",
    }
    fm.write(fine[provider], b"fine", run_id="r1", format="bytes")
    assert fm.read(fine[provider], run_id="r1") == b"fine"
    assert fm.runs(fine[provider]) == ["r1"]
