"""Two code addresses that map to one path: each series keeps to its own artifacts (issue #22, 1).

A module path has no fixed depth, so ``project/job.py::add_1`` instance ``x`` in run ``R1``
and ``project/job/R1.py::x`` (a module named like a run id) in run ``add_1`` both live in
``project/job/R1/add_1/x/``. Writes already refuse a cell another address owns; these tests
hold ``runs``, ``latest``, ``gc``, ``delete`` and explicit reads to the same rule: the
manifest's recorded address says whose artifact it is.
"""

from __future__ import annotations

import pytest

from fsmirror import StorageError, StoreWarning
from storage.promises_support import drop_bookkeeping, stored

A = "project/job.py::add_1"  # partitioned: instance "x"
B = "project/job/R1.py::x"  # a module named like A's run id R1
PART = "x"
SHARED = "project/job/R1/add_1/x/out.json"  # B's run add_1 == A's run R1, instance x

pytestmark = pytest.mark.parametrize("provider", ["local", "memory", "s3"])


def test_gc_of_one_address_never_deletes_the_others_artifact(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    assert fm.mirror_full_output(A, run_id="R1", partition=PART) == f"{fm.base}/{SHARED}"
    b_uri = fm.write(B, {"who": "B"}, run_id="add_1")  # the oldest commit of all
    fm.write(A, {"who": "A", "run": "R0"}, run_id="R0", partition=PART)
    fm.write(A, {"who": "A", "run": "R2"}, run_id="R2", partition=PART)
    after = make_mirror(output_format="json")

    with pytest.warns(StoreWarning, match="belongs to project/job/R1.py::x"):
        assert after.runs(A, partition=PART) == ["R0", "R2"]
    with pytest.warns(StoreWarning, match="belongs to project/job/R1.py::x"):
        assert after.gc(A, keep=1, partition=PART) == ["R0"]

    assert after.runs(B) == ["add_1"]
    assert after.read(B) == {"who": "B"}
    assert after.read(B, run_id="add_1") == {"who": "B"}
    assert str(b_uri).endswith(SHARED) and SHARED in stored(after)
    with pytest.warns(StoreWarning, match="belongs to project/job/R1.py::x"):
        assert after.runs(A, partition=PART) == ["R2"]
    assert after.read(A, partition=PART) == {"who": "A", "run": "R2"}


def test_latest_and_reads_of_one_address_never_answer_with_the_others(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(A, {"who": "A", "run": "R0"}, run_id="R0", partition=PART)
    fm.write(B, {"who": "B"}, run_id="add_1")  # newer than A's only run
    # Without its hint, latest() falls back to the manifests of every cell the series lists.
    drop_bookkeeping(fm, A, partition=PART)
    after = make_mirror(output_format="json")

    with pytest.warns(StoreWarning, match="belongs to project/job/R1.py::x"):
        assert after.latest(A, partition=PART) == "R0"
    assert after.read(A, partition=PART) == {"who": "A", "run": "R0"}
    assert after.latest(B) == "add_1"

    # A's slot of run R1 is B's artifact: A reads, finds and deletes nothing there.
    with pytest.raises(StorageError, match="belongs to project/job/R1.py::x") as info:
        after.read(A, run_id="R1", partition=PART)
    assert info.value.kind == "foreign"
    with pytest.raises(StorageError, match="belongs to project/job/R1.py::x") as info:
        after.delete(A, run_id="R1", partition=PART)
    assert info.value.kind == "foreign"
    assert after.read(B, run_id="add_1") == {"who": "B"}
    assert SHARED in stored(after)

    # And B's own delete still deletes it.
    assert after.delete(B, run_id="add_1") is True
    assert after.runs(B) == [] and SHARED not in stored(after)
    assert after.runs(A, partition=PART) == ["R0"]
