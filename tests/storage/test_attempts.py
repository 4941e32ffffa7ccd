"""Attempts and instances on every provider (``docs/protocol.md``, "Attempts"; ``fsmirror.identity``).

Within one run and instance a later attempt replaces what an earlier attempt committed, in
one compare-and-swap; the same or an earlier attempt is refused; other runs and other
instances are never touched. Instances are series of their own: ``runs``, ``latest`` and
``gc`` of one never see another.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from fsmirror import ArtifactExistsError, ResolveError
from storage.promises_support import ADDR, stored


def test_a_later_attempt_replaces_the_earlier_attempts_commit(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, {"try": 0}, run_id="R")
    uri = fm.write(ADDR, {"try": 1}, run_id="R", attempt=1)
    assert fm.read(ADDR, run_id="R") == {"try": 1}
    man = fm.manifest(ADDR, run_id="R")
    assert man["attempt"] == 1 and man["run"]["id"] == "R" and man["uri"] == uri
    assert fm.runs(ADDR) == ["R"]
    # the replaced attempt's bytes are gone: one data file, one manifest in the run
    run_files = {p for p in stored(fm) if "/R/" in p and "/_fsmirror/" not in p and "/.fsmirror/" not in p}
    assert sorted(p.rsplit("/", 1)[1] for p in run_files) == ["_out.manifest.json", "out.json"]


def test_the_same_or_an_earlier_attempt_is_refused_and_the_committed_bytes_stay(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, {"try": 2}, run_id="R", attempt=2)
    for again in (2, 1, 0):
        with pytest.raises(ArtifactExistsError, match=r"is committed already \(run 'R', attempt 2\)"):
            fm.write(ADDR, {"try": again}, run_id="R", attempt=again)
    assert fm.read(ADDR, run_id="R") == {"try": 2}
    assert fm.manifest(ADDR, run_id="R")["attempt"] == 2


def test_an_attempt_never_replaces_another_run_or_another_instance(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, "r1", run_id="R1")
    fm.write(ADDR, "r1-node-b", run_id="R1", partition=("b",))
    fm.write(ADDR, "r2", run_id="R2", attempt=3)  # another run: a fresh write, whatever its attempt
    fm.write(ADDR, "r1-node-c", run_id="R1", partition="c", attempt=1)
    assert fm.read(ADDR, run_id="R1") == "r1"
    assert fm.read(ADDR, run_id="R1", partition="b") == "r1-node-b"
    assert fm.read(ADDR, run_id="R2") == "r2"
    assert fm.read(ADDR, run_id="R1", partition="c") == "r1-node-c"
    assert fm.manifest(ADDR, run_id="R1")["attempt"] == 0


def test_instances_are_series_of_their_own(make_mirror) -> None:
    """The op used twice in one job: two instances of one code in one run are not two runs."""
    fm = make_mirror(output_format="json")
    for run in ("R1", "R2"):
        fm.write(ADDR, f"{run}-first", run_id=run)
        fm.write(ADDR, f"{run}-second", run_id=run, partition=("add_1_2",))
        fm.write(ADDR, f"{run}-p", run_id=run, partition=("add_1_2", "2026-11-05"))
    assert fm.runs(ADDR) == ["R1", "R2"]
    assert fm.runs(ADDR, partition="add_1_2") == ["R1", "R2"]
    assert fm.latest(ADDR, partition=("add_1_2", "2026-11-05")) == "R2"
    assert fm.read(ADDR, partition=("add_1_2", "2026-11-05")) == "R2-p"
    assert fm.gc(ADDR, keep=1, partition="add_1_2") == ["R1"]
    assert fm.runs(ADDR, partition="add_1_2") == ["R2"]
    assert fm.runs(ADDR) == ["R1", "R2"]  # the other instance is untouched
    assert fm.runs(ADDR, partition=("add_1_2", "2026-11-05")) == ["R1", "R2"]


def test_a_malformed_instance_or_attempt_writes_nothing(make_mirror) -> None:
    """Issue #22: `write(partition=7)` was committed; bad arguments are refused before any request."""
    fm = make_mirror(output_format="json")
    with pytest.raises(ResolveError, match="partition 7 is a int"):
        fm.write(ADDR, 1, run_id="R", partition=7)
    with pytest.raises(ResolveError, match="attempt -1"):
        fm.write(ADDR, 1, run_id="R", attempt=-1)
    with pytest.raises(ResolveError, match="attempt '1'"):
        fm.write(ADDR, 1, run_id="R", attempt="1")
    assert stored(fm) == set()


def test_two_live_attempts_of_one_number_have_one_winner(make_mirror, provider) -> None:
    """Two workers both retrying as attempt 1 over attempt 0: exactly one commits, its bytes are read."""
    if provider == "gcs":
        pytest.skip("gcp-storage-emulator ignores ifGenerationMatch (docs/protocol.md, Known limits)")
    fm = make_mirror(output_format="json")
    fm.write(ADDR, "first", run_id="R")
    others = [make_mirror(output_format="json") for _ in range(4)]
    for fm_i in others:  # the same tenant: make_mirror's storage is fixed per test
        assert fm_i.read(ADDR, run_id="R") == "first"
    barrier = threading.Barrier(len(others))

    def retry(i: int) -> str:
        barrier.wait()
        try:
            others[i].write(ADDR, f"retry-{i}", run_id="R", attempt=1)
        except ArtifactExistsError:
            return "exists"
        return f"won {i}"

    with ThreadPoolExecutor(len(others)) as pool:
        outcomes = list(pool.map(retry, range(len(others))))
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1, outcomes
    assert outcomes.count("exists") == len(others) - 1
    assert fm.read(ADDR, run_id="R") == f"retry-{winners[0].split()[1]}"
    assert fm.manifest(ADDR, run_id="R")["attempt"] == 1


def test_a_later_attempt_after_an_earlier_one_lost_its_race_still_replaces(make_mirror) -> None:
    fm = make_mirror(output_format="json")
    fm.write(ADDR, "a0", run_id="R")
    fm.write(ADDR, "a1", run_id="R", attempt=1)
    fm.write(ADDR, "a3", run_id="R", attempt=3)
    with pytest.raises(ArtifactExistsError):
        fm.write(ADDR, "a2", run_id="R", attempt=2)  # a slow earlier try cannot undo a later one
    assert fm.read(ADDR, run_id="R") == "a3"
    assert fm.latest(ADDR) == "R"


def test_show_prints_the_attempt_that_committed(make_mirror, provider, tmp_path) -> None:
    from click.testing import CliRunner

    from fsmirror.cli import cli
    from storage.promises_support import cli_config

    if provider != "local":
        pytest.skip("the CLI's rendering is the same on every provider")
    fm = make_mirror(output_format="json")
    fm.write(ADDR, 1, run_id="R")
    cfg = str(cli_config(fm, tmp_path))
    first = CliRunner().invoke(cli, ["--config", cfg, "show", ADDR])
    assert first.exit_code == 0, first.output
    assert not [line for line in first.output.splitlines() if line.startswith("attempt")]  # first try: silent
    fm.write(ADDR, 2, run_id="R", attempt=1)
    shown = CliRunner().invoke(cli, ["--config", cfg, "show", ADDR])
    assert shown.exit_code == 0, shown.output
    assert [line.split() for line in shown.output.splitlines() if line.startswith("attempt")] == [["attempt", "1"]]
