"""Events of ``fm.run()`` steps: shape, spec validity, stable names, stable run ids, FAIL, gc DROP."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
from ol_support import Capture, normalize, validate

from fsmirror import FSMirror
from fsmirror import openlineage as fol

GOLDEN = Path(__file__).parent / "golden"


def mirror(tmp: Path, **extra: Any) -> FSMirror:
    cfg = {
        "storage": {"provider": "local", "tenant": str(tmp / "store")},
        "mirrors": {"m": {"root": "project", "output_name": "out", "output_format": "json"}},
        **extra,
    }
    return FSMirror(cfg)


def two_steps(fm: FSMirror, code: Path, run: str) -> tuple[str, str]:
    extract = f"{code}/project/etl/my_etl_task.py::Extract"
    lift = f"{code}/project/etl/my_etl_task.py::LiftDataTask"
    with fm.run(run, key=f"test:{run}:extract"):
        fm.write(extract, {"rows": [1, 2, 3]})
    with fm.run(run, key=f"test:{run}:lift", job="project/etl/my_etl_task.py::LiftDataTask"):
        fm.read(extract, run_id=run)
        fm.write(lift, {"lifted": True})
    return extract, lift


def test_each_step_is_a_start_and_a_complete_with_its_inputs_and_outputs(
    capture: Capture, project: Path, tmp_path: Path
) -> None:
    fm = mirror(tmp_path)
    two_steps(fm, project, "r1")
    got = [(e["eventType"], e["job"]["name"]) for e in capture.runs()]
    assert got == [
        ("START", "project/etl/my_etl_task.py::Extract"),
        ("COMPLETE", "project/etl/my_etl_task.py::Extract"),
        ("START", "project/etl/my_etl_task.py::LiftDataTask"),
        ("COMPLETE", "project/etl/my_etl_task.py::LiftDataTask"),
    ]
    for e in capture.events:
        validate(e)
    store = tmp_path / "store"
    extract_done, lift_start, lift_done = capture.events[1], capture.events[2], capture.events[3]
    ds = {"namespace": "file", "name": f"{store}/project/etl/my_etl_task/Extract/out.json"}
    assert [{k: o[k] for k in ("namespace", "name")} for o in extract_done["outputs"]] == [ds]
    assert [{k: i[k] for k in ("namespace", "name")} for i in lift_done["inputs"]] == [ds]
    assert lift_start["inputs"] == lift_start["outputs"] == []  # START: nothing read or written yet
    out = lift_done["outputs"][0]
    assert out["name"] == f"{store}/project/etl/my_etl_task/LiftDataTask/out.json"
    assert out["facets"]["version"]["datasetVersion"] == "r1"
    physical = f"{store}/project/etl/my_etl_task/r1/LiftDataTask/out.json"
    assert out["facets"]["symlinks"]["identifiers"] == [
        {"namespace": "file", "name": physical, "type": "file"}
    ]
    man = fm.manifest(f"{project}/project/etl/my_etl_task.py::LiftDataTask", run_id="r1")
    assert out["facets"]["fsmirror"]["uri"] == physical == man["uri"]
    assert out["facets"]["fsmirror"]["hash"] == man["hash"]
    assert (
        out["facets"]["fsmirror"]["manifest"]
        == f"{store}/project/etl/my_etl_task/r1/LiftDataTask/_out.manifest.json"
    )
    assert os.path.exists(out["facets"]["fsmirror"]["manifest"])
    assert out["outputFacets"]["outputStatistics"]["size"] == man["size"] == os.path.getsize(physical)
    assert out["facets"]["storage"] == {
        **out["facets"]["storage"],
        "storageLayer": "fsmirror",
        "fileFormat": "json",
    }
    assert lift_done["job"]["facets"]["sourceCodeLocation"]["url"] == (
        Path(project / "project/etl/my_etl_task.py").as_uri()
    )


def test_dataset_names_do_not_change_between_runs_and_run_ids_are_stable_per_key(
    capture: Capture, project: Path, tmp_path: Path
) -> None:
    fm = mirror(tmp_path)
    two_steps(fm, project, "r1")
    first = list(capture.events)
    capture.events.clear()
    two_steps(fm, project, "r2")
    second = list(capture.events)
    assert [o["name"] for e in first for o in e["outputs"]] == [
        o["name"] for e in second for o in e["outputs"]
    ]
    assert {e["run"]["runId"] for e in first}.isdisjoint({e["run"]["runId"] for e in second})
    assert [o["facets"]["version"]["datasetVersion"] for e in second for o in e["outputs"]] == ["r2", "r2"]
    capture.events.clear()
    with fm.run("r1", key="test:r1:lift", job="project/etl/my_etl_task.py::LiftDataTask"):
        fm.write(f"{project}/project/etl/my_etl_task.py::LiftDataTask", {"lifted": 2}, overwrite=True)
    again = capture.events
    assert {e["run"]["runId"] for e in again} == {first[3]["run"]["runId"]}  # same step key, same run
    assert first[3]["run"]["runId"] == fol.run_uuid(type("S", (), {"key": "test:r1:lift"})())  # type: ignore[arg-type]


def test_a_failed_step_is_a_fail_event_with_the_error(
    capture: Capture, project: Path, tmp_path: Path
) -> None:
    fm = mirror(tmp_path)
    lift = f"{project}/project/etl/my_etl_task.py::LiftDataTask"
    with pytest.raises(ZeroDivisionError), fm.run("r1", key="test:r1:fail", job="lift"):
        fm.write(lift, {"half": True})
        1 / 0  # noqa: B018
    start, fail = capture.events
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    err = fail["run"]["facets"]["errorMessage"]
    assert err["message"] == "ZeroDivisionError: division by zero"
    assert err["programmingLanguage"] == "python"
    assert "1 / 0" in err["stackTrace"]
    assert [o["facets"]["version"]["datasetVersion"] for o in fail["outputs"]] == ["r1"]  # what it did commit
    for e in capture.events:
        validate(e)


def test_gc_reports_each_deleted_run_as_a_drop_of_its_object(
    capture: Capture, project: Path, tmp_path: Path
) -> None:
    fm = mirror(tmp_path)
    lift = f"{project}/project/etl/my_etl_task.py::LiftDataTask"
    for run in ("r1", "r2", "r3"):
        fm.write(lift, {"run": run}, run_id=run)
    capture.events.clear()
    assert fm.gc(lift, keep=1, dry_run=True) == ["r1", "r2"]
    assert capture.events == []  # a dry run deletes nothing and says nothing
    assert fm.gc(lift, keep=1) == ["r1", "r2"]
    store = tmp_path / "store"
    drops = capture.events
    assert [d["dataset"]["name"] for d in drops] == [
        f"{store}/project/etl/my_etl_task/{r}/LiftDataTask/out.json" for r in ("r1", "r2")
    ]
    for d, run in zip(drops, ("r1", "r2")):
        validate(d)
        facets = d["dataset"]["facets"]
        assert facets["lifecycleStateChange"]["lifecycleStateChange"] == "DROP"
        assert facets["version"]["datasetVersion"] == run
        stable = f"{store}/project/etl/my_etl_task/LiftDataTask/out.json"
        assert facets["symlinks"]["identifiers"] == [{"namespace": "file", "name": stable, "type": "dataset"}]
        assert not os.path.exists(facets["fsmirror"]["uri"])
    assert fm.runs(lift) == ["r3"]


def test_a_step_that_touches_no_artifact_and_has_no_name_sends_nothing(
    capture: Capture, tmp_path: Path
) -> None:
    fm = mirror(tmp_path)
    with fm.run("r1"):
        pass
    assert capture.events == []


@pytest.mark.parametrize(
    ("uri", "segment", "partition", "accounts", "expected"),
    [
        (
            "s3://my.bucket/project/etl/my_etl_task/20261201/LiftDataTask/out.parquet", "20261201", None, {},
            ("s3://my.bucket", "project/etl/my_etl_task/LiftDataTask/out.parquet",
             "project/etl/my_etl_task/20261201/LiftDataTask/out.parquet"),
        ),
        (
            "gs://b/pre/project/m/r-1/Name/2026-12-01/out.csv", "r-1", "2026-12-01", {},
            ("gs://b", "pre/project/m/Name/2026-12-01/out.csv", "pre/project/m/r-1/Name/2026-12-01/out.csv"),
        ),
        (  # the run slot last in the layout ("{module}/{name}/{run_id}"); the partition equals the run
            "s3://b/project/m/Name/x/x/out.pkl", "x", "x", {},
            ("s3://b", "project/m/Name/x/out.pkl", "project/m/Name/x/x/out.pkl"),
        ),
        (
            "az://container/project/m/r1/Name/out.parquet", "r1", None, {"container": "acct"},
            ("wasbs://container@acct.dfs.core.windows.net", "project/m/Name/out.parquet",
             "project/m/r1/Name/out.parquet"),
        ),
        (
            "az://container/project/m/r1/Name/out.parquet", "r1", None, {},
            ("az://container", "project/m/Name/out.parquet", "project/m/r1/Name/out.parquet"),
        ),
        (
            "/data/store/project/m/r1/Name/out.json", "r1", None, {},
            ("file", "/data/store/project/m/Name/out.json", "/data/store/project/m/r1/Name/out.json"),
        ),
        (
            "memory://t/project/m/r1/Name/out.json", "r1", None, {},
            ("memory://t", "project/m/Name/out.json", "project/m/r1/Name/out.json"),
        ),
    ],
)  # fmt: skip
def test_dataset_names_follow_the_naming_spec_without_the_run(
    uri: str, segment: str, partition: str | None, accounts: dict[str, str], expected: tuple[str, str, str]
) -> None:
    n = fol.dataset_name(uri, segment, partition, accounts)
    assert (n.namespace, n.name, n.physical) == expected
    assert n.version == segment


def test_the_azure_account_comes_from_the_storage_options() -> None:
    assert fol.azure_account({"account_name": "acct"}) == "acct"
    conn = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=k;BlobEndpoint=http://x;"
    assert fol.azure_account({"connection_string": conn}) == "devstoreaccount1"
    assert fol.azure_account({}) is None


def test_event_shape_matches_the_golden_file(capture: Capture, project: Path, tmp_path: Path) -> None:
    fm = mirror(tmp_path)
    two_steps(fm, project, "r1")
    got = normalize(capture.events, {str(tmp_path): "<tmp>"})
    golden = GOLDEN / "fm_run_two_steps.json"
    if os.environ.get("FSMIRROR_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert got == json.loads(golden.read_text())


def test_enabled_by_the_config_and_sent_by_the_clients_own_file_transport(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No fsmirror transport: ``openlineage.yml`` (via $OPENLINEAGE_CONFIG) picks the client's file one."""
    fol.uninstall()
    events = tmp_path / "events.jsonl"
    conf = tmp_path / "openlineage.yml"
    conf.write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(conf))
    monkeypatch.delenv("FSMIRROR_OPENLINEAGE", raising=False)
    try:
        fm = mirror(tmp_path, openlineage={"enabled": True, "namespace": "team-etl"})
        assert fol.installed() is not None
        two_steps(fm, project, "r1")
    finally:
        fol.uninstall()
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    assert [(e["eventType"], e["job"]["namespace"]) for e in sent] == [
        ("START", "team-etl"), ("COMPLETE", "team-etl"), ("START", "team-etl"), ("COMPLETE", "team-etl"),
    ]  # fmt: skip
    for e in sent:
        validate(e)


def test_the_env_var_turns_it_on_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fol.uninstall()
    try:
        monkeypatch.setenv("FSMIRROR_OPENLINEAGE", "0")
        mirror(tmp_path, openlineage={"enabled": True})
        assert fol.installed() is None
        monkeypatch.setenv("FSMIRROR_OPENLINEAGE", "1")
        mirror(tmp_path)
        assert fol.installed() is not None
    finally:
        fol.uninstall()


def test_the_config_key_is_checked(tmp_path: Path) -> None:
    from fsmirror import ConfigError

    with pytest.raises(ConfigError, match=r"key 'openlineage.enable' is not a known setting"):
        mirror(tmp_path, openlineage={"enable": True})


def test_the_validator_rejects_what_the_spec_rejects(capture: Capture, project: Path, tmp_path: Path) -> None:
    """So a passing ``validate`` means something: the vendored schemas are really applied."""
    import copy

    from jsonschema import ValidationError

    two_steps(mirror(tmp_path), project, "r1")
    good = capture.events[1]
    validate(good)
    no_run_id = copy.deepcopy(good)
    del no_run_id["run"]["runId"]
    bad_uuid = copy.deepcopy(good)
    bad_uuid["run"]["runId"] = "not-a-uuid"
    bad_facet = copy.deepcopy(good)
    bad_facet["outputs"][0]["facets"]["version"]["datasetVersion"] = 7
    bad_state = copy.deepcopy(good)
    bad_state["eventType"] = "DONE"
    for broken in (no_run_id, bad_uuid, bad_facet, bad_state):
        with pytest.raises(ValidationError):
            validate(broken)


def test_background_sending_delivers_the_same_events_in_order(project: Path, tmp_path: Path) -> None:
    """``background=True``: built and sent on a sender thread; ``flush`` waits for all of them."""
    from ol_support import Capture

    fol.uninstall()
    cap = Capture()
    fol.install(client=cap.client(), background=True)
    try:
        fm = mirror(tmp_path)
        two_steps(fm, project, "r1")
        two_steps(fm, project, "r2")
        assert fol.flush(timeout=30)
        got = [(e["eventType"], e["job"]["name"].rsplit("::", 1)[1]) for e in cap.events]
    finally:
        fol.uninstall()
    assert (
        got
        == [
            ("START", "Extract"),
            ("COMPLETE", "Extract"),
            ("START", "LiftDataTask"),
            ("COMPLETE", "LiftDataTask"),
        ]
        * 2
    )


class Unpicklable(Exception):
    """An exception holding a lock: it does not pickle, so a sender process gets it as text."""

    def __init__(self, message: str) -> None:
        import threading

        super().__init__(message)
        self.lock = threading.Lock()


def _steps_that_cover_every_event(fm: FSMirror, project: Path) -> None:
    two_steps(fm, project, "r1")
    two_steps(fm, project, "r2")
    lift = f"{project}/project/etl/my_etl_task.py::LiftDataTask"
    with pytest.raises(Unpicklable), fm.run("r3", key="test:r3:fail", job="lift"):
        fm.write(lift, {"half": True})
        raise Unpicklable("no lock survives a pickle")
    assert fm.gc(lift, keep=1) == ["r1", "r2"]


def _file_transport(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    events = tmp_path / "events.jsonl"
    conf = tmp_path / "openlineage.yml"
    conf.write_text(f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n")
    monkeypatch.setenv("OPENLINEAGE_CONFIG", str(conf))
    monkeypatch.delenv("FSMIRROR_OPENLINEAGE", raising=False)
    return events


def test_a_sender_process_sends_the_same_events_as_sending_inline(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sender: process``: every event (START, COMPLETE, FAIL with an exception that does not
    pickle, DROP) built and sent by a child process, in order, equal to the inline ones."""
    from ol_support import Capture

    fol.uninstall()
    cap = Capture()
    fol.install(client=cap.client())
    try:
        _steps_that_cover_every_event(mirror(tmp_path / "inline"), project)
        inline = cap.events
    finally:
        fol.uninstall()
    events = _file_transport(tmp_path, monkeypatch)
    try:
        fm = mirror(tmp_path / "process", openlineage={"enabled": True, "sender": "process"})
        emitter = fol.installed()
        assert emitter is not None and emitter.sender == "process"
        _steps_that_cover_every_event(fm, project)
        assert fol.flush(timeout=30)
        sender = emitter._process
        assert sender is not None and sender.proc.pid != os.getpid()
    finally:
        fol.uninstall()
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    assert [(e.get("eventType"), e.get("job", {}).get("name")) for e in sent] == [
        (e.get("eventType"), e.get("job", {}).get("name")) for e in inline
    ]
    fail = sent[9]["run"]["facets"]["errorMessage"]
    assert fail["message"] == "Unpicklable: no lock survives a pickle"
    assert 'raise Unpicklable("no lock survives a pickle")' in fail["stackTrace"]
    assert normalize(sent, {str(tmp_path / "process"): "<tmp>"}) == normalize(
        inline, {str(tmp_path / "inline"): "<tmp>"}
    )
    for e in sent:
        validate(e)


def test_a_sender_process_sends_what_it_was_handed_when_its_parent_is_killed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipe outlives the step's process: a SIGKILLed worker's events still go out."""
    import subprocess
    import sys
    import time

    events = _file_transport(tmp_path, monkeypatch)
    script = tmp_path / "worker.py"
    script.write_text(
        "import os, signal, sys\n"
        "from fsmirror import FSMirror\n"
        "fm = FSMirror({'storage': {'provider': 'local', 'tenant': sys.argv[1]},\n"
        "               'mirrors': {'m': {'root': 'project', 'output_format': 'json'}},\n"
        "               'openlineage': {'enabled': True, 'sender': 'process'}})\n"
        "with fm.run('r1', key='test:killed', job='project/etl/my_etl_task.py::LiftDataTask'):\n"
        "    fm.write(sys.argv[2], {'n': 1})\n"
        "from fsmirror import openlineage as fol\n"
        "fol.flush(timeout=0)  # a flush that gives up at once: its token is echoed to no one\n"
        "with fm.run('r2', key='test:killed-2', job='project/etl/my_etl_task.py::LiftDataTask'):\n"
        "    fm.write(sys.argv[2], {'n': 2}, run_id='r2')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    lift = f"{project}/project/etl/my_etl_task.py::LiftDataTask"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "store"), lift], env=env, timeout=60)
    assert done.returncode == -9
    deadline = time.monotonic() + 30
    sent: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(sent) < 4:
        time.sleep(0.05)
        if events.exists():
            sent = [json.loads(line) for line in events.read_text().splitlines() if line.endswith("}")]
    # the flush token between the two steps is echoed to a dead parent: the rest still goes out
    assert [e["eventType"] for e in sent] == ["START", "COMPLETE", "START", "COMPLETE"]
    assert [e["outputs"][0]["facets"]["version"]["datasetVersion"] for e in sent[1::2]] == ["r1", "r2"]


def _step_in_a_forked_worker(store: str, lift: str) -> None:
    fm = FSMirror(
        {
            "storage": {"provider": "local", "tenant": store},
            "mirrors": {"m": {"root": "project", "output_format": "json"}},
            "openlineage": {"enabled": True, "sender": "process"},
        }
    )
    with fm.run("r2", key="test:forked", job="project/etl/my_etl_task.py::LiftDataTask"):
        fm.write(lift, {"n": 2})


def test_a_forked_worker_starts_its_own_sender_process_and_flushes_it_when_it_exits(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Luigi's and Dagster's multiprocess workers fork: the parent's pipe is not theirs to write."""
    import multiprocessing

    events = _file_transport(tmp_path, monkeypatch)
    lift = f"{project}/project/etl/my_etl_task.py::LiftDataTask"
    fol.uninstall()
    try:
        fm = mirror(tmp_path, openlineage={"enabled": True, "sender": "process"})
        with fm.run("r1", key="test:parent", job="project/etl/my_etl_task.py::LiftDataTask"):
            fm.write(lift, {"n": 1})
        emitter = fol.installed()
        assert emitter is not None and emitter._process is not None
        worker = multiprocessing.get_context("fork").Process(
            target=_step_in_a_forked_worker, args=(str(tmp_path / "store"), lift)
        )
        worker.start()
        worker.join(60)
        assert worker.exitcode == 0
        assert fol.flush(timeout=30)
    finally:
        fol.uninstall()
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    by_run = sorted(
        (e["outputs"][0]["facets"]["version"]["datasetVersion"], e["eventType"]) for e in sent if e["outputs"]
    )
    assert by_run == [("r1", "COMPLETE"), ("r2", "COMPLETE")]
    assert len(sent) == 4  # and the two STARTs


def test_the_sender_wire_carries_what_an_event_reads_and_pickles_what_marshal_cannot(
    project: Path, tmp_path: Path
) -> None:
    """``openlineage_sender.encode``/``decode``: the same event from the decoded step as from the
    step itself; a snapshot ``marshal`` cannot take (a datetime in its record) goes as a pickle."""
    import datetime as dt

    from fsmirror import lineage
    from fsmirror.lineage.openlineage_sender import decode, encode

    steps: list[fol.Step] = []

    class Keep:
        def scope_started(self, s: Any) -> None: ...

        def scope_ended(self, s: Any) -> None:
            steps.append(fol.Step.of(s))

    keep = Keep()
    lineage.add_listener(keep)
    try:
        two_steps(mirror(tmp_path), project, "r1")
    finally:
        lineage.remove_listener(keep)
    emitter = fol.Emitter(client=object())
    for step in steps:
        frame = encode(("run", step, "COMPLETE", "ns", {}))
        assert frame[4:5] == b"M"
        kind, back, state, ns, accounts = decode(frame[4:])
        assert (kind, state, ns, accounts) == ("run", "COMPLETE", "ns", {})
        ours, theirs = emitter._run_event(step, "COMPLETE"), emitter._run_event(back, "COMPLETE")
        from openlineage.client.serde import Serde

        assert json.loads(Serde.to_json(ours)) == json.loads(Serde.to_json(theirs))
    odd = dataclasses.replace(
        steps[0], orchestrator={"when": dt.datetime(2026, 12, 1)}, error=ValueError("x")
    )
    frame = encode(("run", odd, "FAIL", "ns", {}))
    assert frame[4:5] == b"P"
    back = decode(frame[4:])[1]
    assert back.orchestrator == {"when": dt.datetime(2026, 12, 1)}
    assert isinstance(back.error, fol.ReportedError) and back.error.message == "ValueError: x"


def test_a_sender_process_needs_the_clients_own_configuration() -> None:
    from fsmirror import ConfigError

    with pytest.raises(ConfigError, match="cannot use a client passed in"):
        fol.Emitter(client=object(), sender="process")
    with pytest.raises(ConfigError, match="inline, thread, process"):
        fol.Emitter(sender="carrier-pigeon")  # type: ignore[arg-type]


def test_source_code_location_names_the_repository_path_and_commit(
    capture: Capture, project: Path, tmp_path: Path
) -> None:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(project), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q")
    git("remote", "add", "origin", "https://example.com/team/pipelines.git")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    commit = git("rev-parse", "HEAD")
    fm = mirror(tmp_path)
    two_steps(fm, project, "r1")
    located = capture.events[-1]["job"]["facets"]["sourceCodeLocation"]
    assert {k: located[k] for k in ("type", "url", "repoUrl", "path", "version")} == {
        "type": "git",
        "url": "https://example.com/team/pipelines.git",
        "repoUrl": "https://example.com/team/pipelines.git",
        "path": "project/etl/my_etl_task.py",
        "version": commit,
    }
    validate(capture.events[-1])
