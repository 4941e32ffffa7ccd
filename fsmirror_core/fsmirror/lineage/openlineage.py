"""OpenLineage events for every step that reads or writes through fsmirror.

A lineage listener (:mod:`fsmirror.lineage`) that turns each step's scope into
OpenLineage ``RunEvent``\\ s: ``START`` when the step starts, ``COMPLETE`` or
``FAIL`` when it ends, with the artifacts it read as inputs and the ones it
committed as outputs; ``gc`` reports each run it deletes with a
``lifecycleStateChange`` ``DROP``.

It is configured the ecosystem's way: the events go wherever the
``openlineage-python`` client's own configuration sends them (``openlineage.yml``,
``$OPENLINEAGE_CONFIG``, ``$OPENLINEAGE_URL``, ``OPENLINEAGE__TRANSPORT__*``);
fsmirror adds no transport. fsmirror only decides *whether* to emit
(``openlineage: {enabled: true}`` in its config, or ``$FSMIRROR_OPENLINEAGE=1``)
and the job namespace.

Names follow the OpenLineage naming spec and stay stable across runs: a
dataset is the run-free path (``project/etl/my_etl_task/LiftDataTask/out.parquet``)
in the store's namespace (``s3://bucket``, ``gs://bucket``,
``wasbs://container@account.dfs.core.windows.net``, ``file``), the run is its
``datasetVersion``, and the physical object (with the run in its path) is a
``symlinks`` identifier and the ``fsmirror`` facet (URI, manifest, hash, size).

``openlineage.client`` is imported only when the first event is built: importing
this module, or fsmirror with the feature off, imports nothing of it.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, get_args

from .. import lineage
from ..model.schema import Sender
from ..model.urls import public_url
from ..paths import names
from ..paths.providers import by_scheme
from .openlineage_records import ReportedError, Step

if TYPE_CHECKING:
    from ..model.record import Input, Manifest
    from ..paths.identity import Instance
    from . import Scope
    from .openlineage_sender import SenderProcess

__all__ = [
    "ENV_ENABLE",
    "ENV_NAMESPACE",
    "DEFAULT_NAMESPACE",
    "DatasetName",
    "azure_account",
    "Emitter",
    "dataset_name",
    "run_uuid",
    "parent_of",
    "install",
    "flush",
    "Step",
    "ReportedError",
    "SENDERS",
    "uninstall",
    "installed",
    "defer",
    "enabled",
]

log = logging.getLogger("fsmirror.openlineage")

ENV_ENABLE = "FSMIRROR_OPENLINEAGE"
"""``1``/``true`` turns emission on whatever the config says; ``0``/``false`` turns it off."""
ENV_NAMESPACE = "FSMIRROR_OPENLINEAGE_NAMESPACE"
DEFAULT_NAMESPACE = "fsmirror"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_UUID_NS = uuid.uuid5(uuid.NAMESPACE_URL, "fsmirror:openlineage")


def _version() -> str:
    from .._version import __version__

    return __version__


def producer() -> str:
    """The ``producer`` of every event: a Package URL of this fsmirror release."""
    return f"pkg:pypi/fsmirror@{_version()}"


FACET_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet"
"""The ``_schemaURL`` of the custom ``fsmirror`` dataset facet: a plain DatasetFacet (its fields:
docs/openlineage.md)."""


def enabled(setting: bool | None) -> bool:
    """Whether to emit: ``$FSMIRROR_OPENLINEAGE`` when set, else the config's ``openlineage.enabled``."""
    env = os.environ.get(ENV_ENABLE, "").strip().lower()
    if env in _TRUE:
        return True
    if env in _FALSE:
        return False
    return bool(setting)


# -- names (pure) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetName:
    """An artifact as OpenLineage names it: the stable dataset and the physical object of one run."""

    namespace: str
    name: str  # run-free: the same for every run of the same code and output
    physical: str  # the object's path in the namespace, with the run in it
    version: str  # the run segment


def _split_uri(uri: str, azure_accounts: Mapping[str, str]) -> tuple[str, str]:
    """(namespace, path) of a URI per the OpenLineage naming spec."""
    scheme, sep, rest = uri.partition("://")
    if not sep:  # a local path
        return "file", uri
    if scheme == "file":
        return "file", rest
    bucket, _, key = rest.partition("/")
    named = by_scheme(scheme)  # s3a://, gcs://, abfss://...: the provider's own scheme
    if named is not None and named.named_by_account:
        container, _, at = bucket.partition("@")
        account = at.split(".", 1)[0] if at else azure_accounts.get(container)
        if account:
            return f"wasbs://{container}@{account}.dfs.core.windows.net", key
        return f"{named.scheme}://{container}", key
    if named is not None:
        scheme = named.scheme
    return f"{scheme}://{bucket}", key  # others: the URI's own authority


def azure_account(storage_options: Mapping[str, Any]) -> str | None:
    """The storage account of an Azure store (``account_name``, or ``AccountName=`` of a connection
    string): the ``wasbs://container@account...`` namespace needs it; the ``az://`` URI lacks it."""
    name = storage_options.get("account_name")
    if isinstance(name, str) and name and "${" not in name:
        return name
    conn = storage_options.get("connection_string")
    if isinstance(conn, str):
        for part in conn.split(";"):
            k, _, v = part.partition("=")
            if k.strip().lower() == "accountname" and v.strip():
                return v.strip()
    return None


def dataset_name(
    uri: str, segment: str, partition: Instance | None, azure_accounts: Mapping[str, str] | None = None
) -> DatasetName:
    """The stable OpenLineage identity of the artifact at ``uri``, written by run ``segment``.

    The run slot is the last path segment equal to ``segment`` before the partition and the file
    name (layouts put ``{run_id}`` anywhere, always as a whole segment)::

        >>> dataset_name("s3://b/project/etl/job/20261201/Lift/out.parquet", "20261201", None)
        DatasetName(namespace='s3://b', name='project/etl/job/Lift/out.parquet', physical='project/etl/job/20261201/Lift/out.parquet', version='20261201')
    """
    namespace, path = _split_uri(uri, azure_accounts or {})
    parts = path.split("/")
    tail = 2 if partition is not None else 1
    for i in range(len(parts) - tail - 1, -1, -1):
        if parts[i] == segment:
            stable = [*parts[:i], *parts[i + 1 :]]
            break
    else:
        stable = parts
    return DatasetName(namespace, "/".join(stable), path, segment)


def run_uuid(s: Scope | Step) -> str:
    """The OpenLineage run id of a step: uuid5 of its ``key``, so a re-run of the same orchestrator
    run (the same step key) reports the same run. A scope without a key gets its own random id."""
    if s.key:
        return str(uuid.uuid5(_UUID_NS, s.key))
    return str(uuid.UUID(hex=s.id))


def _as_uuid(value: Any, seed: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(uuid.uuid5(_UUID_NS, seed))


@dataclass(frozen=True)
class Parent:
    """The orchestrator's run above a step: a job name and an OpenLineage run id."""

    job: str
    run_id: str
    orchestrator: str


def parent_of(s: Scope | Step) -> Parent | None:
    """The orchestrator run a step belongs to, from the scope's key and orchestrator record.

    Dagster: the run (``job_name``, its run id). Airflow: the DAG run (``dag_id``, a uuid5 of
    dag id and run id). Prefect: the flow run (``flow_name``, its id). Luigi: the task
    (``task_family``, a uuid5 of the task id). A plain ``fm.run()`` block has none.
    """
    o = s.orchestrator
    kind = (s.key or "").split(":", 1)[0] if s.key and ":" in s.key else str(o.get("name") or "")
    if not kind:
        kind = "airflow" if "dag_id" in o else "prefect" if "flow_run_id" in o else ""
    if kind == "dagster" and o.get("run_id"):
        rid = str(o["run_id"])
        return Parent(str(o.get("job_name") or "dagster"), _as_uuid(rid, f"dagster:{rid}"), kind)
    if kind == "airflow" and o.get("dag_id") and o.get("run_id"):
        dag, rid = str(o["dag_id"]), str(o["run_id"])
        return Parent(dag, str(uuid.uuid5(_UUID_NS, f"airflow:{dag}:{rid}")), kind)
    if kind == "prefect" and o.get("flow_run_id"):
        rid = str(o["flow_run_id"])
        return Parent(str(o.get("flow_name") or "prefect"), _as_uuid(rid, f"prefect:{rid}"), kind)
    if kind == "luigi" and o.get("task_id"):
        tid = str(o["task_id"])
        return Parent(str(o.get("task_family") or tid), str(uuid.uuid5(_UUID_NS, f"luigi:{tid}")), kind)
    return None


@functools.lru_cache(maxsize=256)
def _repo_of(directory: str) -> tuple[str, str | None] | None:
    """(work-tree top, origin URL without credentials) of the git checkout holding ``directory``."""
    from pathlib import Path

    d = Path(directory)
    for cand in (d, *d.parents):
        if (cand / ".git").exists():
            break
    else:
        return None
    try:
        from openlineage.client.git import _find_git_dir, get_git_repo_url

        gd = _find_git_dir(str(cand))
        url = get_git_repo_url(git_dir=gd) if gd is not None else None
        if url is None and gd is not None and (gd / "commondir").exists():  # a linked worktree
            common = (gd / (gd / "commondir").read_text().strip()).resolve()
            url = get_git_repo_url(git_dir=common)
    except Exception:
        url = None
    # a CI checkout's origin often holds its token (https://x-access-token:<token>@...): the
    # event goes to a lineage server many people read, so the URL goes without credentials
    return str(cand), public_url(url)


# -- the emitter ---------------------------------------------------------------------------------

_claims: list[Callable[[Scope], bool]] = []


def defer(claim: Callable[[Scope], bool]) -> None:
    """Let another emitter own some steps: fsmirror emits nothing for a scope ``claim`` accepts.

    The Airflow integration uses it when Airflow's OpenLineage provider reports the task and
    fsmirror's artifacts join the provider's event (``fsmirror_airflow._openlineage``).
    """
    if claim not in _claims:
        _claims.append(claim)


SENDERS: tuple[str, ...] = get_args(Sender)


class Emitter:
    """The listener: one START per step, one COMPLETE or FAIL, one DROP per run gc deletes.

    Args:
        namespace: the job namespace (default ``$FSMIRROR_OPENLINEAGE_NAMESPACE``, else
            ``fsmirror``); dataset namespaces come from the store.
        client: an ``OpenLineageClient``; by default one configured by the client's own
            configuration, made on the first event.
        sender: where events are built and handed to the client (docs/openlineage.md, "Cost").
            ``inline`` (the default): in the step's thread, nothing to start or flush.
            ``thread``: a sender thread of this process. ``process``: a sender process, started
            on the first event, that builds and sends them with a client of its own configured
            the same way (so ``client`` must be None): the step pays a snapshot and a pipe write,
            and the client's CPU work runs on another core. Both are flushed when the process
            exits (``atexit``, and multiprocessing's exit for forked workers); :meth:`flush`
            waits for them. Measured (benchmark row 20), a sender thread costs more wall time
            than sending inline (its CPU work holds the GIL while the step waits to resume).
        background: ``True`` is ``sender="thread"`` (the earlier spelling).
    """

    def __init__(
        self,
        namespace: str | None = None,
        client: Any = None,
        *,
        sender: Sender | None = None,
        background: bool = False,
    ) -> None:
        chosen = sender or ("thread" if background else "inline")
        if chosen not in SENDERS:
            from ..errors import ConfigError

            raise ConfigError(f"openlineage sender must be one of {', '.join(SENDERS)}, got {chosen!r}")
        if chosen == "process" and client is not None:
            from ..errors import ConfigError

            raise ConfigError(
                "a sender process makes its own client from the client's configuration "
                "(openlineage.yml, $OPENLINEAGE_URL, ...): it cannot use a client passed in"
            )
        self.namespace = namespace or os.environ.get(ENV_NAMESPACE) or DEFAULT_NAMESPACE
        self.sender: Sender = chosen
        self._client = client
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: queue.SimpleQueue[Callable[[], Any] | None] | None = None
        self._pid = 0
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._process: SenderProcess | None = None
        self._started: set[str] = set()
        self.azure_accounts: dict[str, str] = {}
        if hasattr(os, "register_at_fork"):  # a fork may copy the lock held: the child starts afresh
            os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue, self._pid, self._pending, self._thread = None, 0, 0, None
        self._process = None  # the parent's pipe is the parent's: a forked child starts its own

    def __repr__(self) -> str:
        return f"Emitter(namespace={self.namespace!r}, sender={self.sender!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from openlineage.client import OpenLineageClient

                    self._client = OpenLineageClient()
        return self._client

    # listener protocol: cheap in the step's thread (a snapshot), the event is built and sent later

    def scope_started(self, s: Scope) -> None:
        if s.job is None or any(c(s) for c in _claims):
            return  # no name yet: START goes out at the end with the first artifact's address
        with self._lock:
            self._started.add(s.id)
        self._submit(Step.of(s), "START")

    def scope_ended(self, s: Scope) -> None:
        with self._lock:
            started = s.id in self._started
            self._started.discard(s.id)
        if any(c(s) for c in _claims):
            return
        step = Step.of(s)
        if not started:
            if not step.outputs and not step.inputs:
                return  # a step that touched no artifact is not fsmirror's to report
            self._submit(step, "START")
        self._submit(step, "FAIL" if step.error is not None else "COMPLETE")

    def artifacts_deleted(self, manifests: Sequence[Manifest]) -> None:
        import datetime as _dt

        at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")
        for m in manifests:
            if not self._to_process(("drop", m, at)):
                self._send(functools.partial(self._drop_event, m, at))

    # sending

    def _submit(self, step: Step, state: str) -> None:
        if not self._to_process(("run", step, state)):
            self._send(lambda: self._run_event(step, state))

    def _to_process(self, message: tuple[Any, ...]) -> bool:
        """Hand ``message`` to this process's sender process; False: send it here instead."""
        if self.sender != "process":
            return False
        pid = os.getpid()
        p = self._process
        if p is None or p.pid_of_owner != pid:
            with self._lock:
                if self._process is None or self._process.pid_of_owner != pid:
                    try:
                        from .openlineage_sender import SenderProcess

                        self._process = SenderProcess()
                    except OSError:
                        log.warning(
                            "fsmirror: cannot start the OpenLineage sender process; sending inline",
                            exc_info=True,
                        )
                        self.sender = "inline"
                        return False
                    _flush_at_exit(self)
                p = self._process
        assert p is not None
        message = (*message, self.namespace, self.azure_accounts)
        try:
            if p.send(message):
                return True
        except Exception:  # it does not pickle (an odd orchestrator record): this one is sent here
            self._send_here(message)
            return True
        log.warning("fsmirror: the OpenLineage sender process is gone; sending inline from now on")
        self.sender = "inline"
        return False

    def _send_here(self, message: tuple[Any, ...]) -> None:
        """Build and send, in this process, a message the sender process could not take."""
        try:
            self._emit(self.event_of(message))
        except Exception:  # lineage reporting never fails a pipeline
            log.warning("fsmirror: sending an OpenLineage event failed", exc_info=True)

    def event_of(self, message: tuple[Any, ...]) -> Any:
        """The event a sender message stands for: ``("run", Step, state, ...)`` or
        ``("drop", Manifest, at, ...)`` (the namespace and Azure accounts after it are the sender's)."""
        kind, payload, extra = message[:3]
        return self._run_event(payload, extra) if kind == "run" else self._drop_event(payload, extra)

    def _send(self, build: Callable[[], Any]) -> None:
        if self.sender != "thread":  # a sender process's fallback is inline too
            self._emit(build())
            return
        self._worker().put(build)

    def _worker(self) -> queue.SimpleQueue[Callable[[], Any] | None]:
        """The queue of this process's sender thread, started on first use (and again after a fork)."""
        pid = os.getpid()
        if self._queue is None or self._pid != pid:
            with self._lock:
                if self._queue is None or self._pid != pid:
                    q: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
                    self._queue, self._pid, self._pending = q, pid, 0
                    t = threading.Thread(
                        target=self._drain, args=(q,), name="fsmirror-openlineage", daemon=True
                    )
                    self._thread = t
                    t.start()
                    _flush_at_exit(self)
        with self._lock:
            self._pending += 1
        assert self._queue is not None
        return self._queue

    def _drain(self, q: queue.SimpleQueue[Callable[[], Any] | None]) -> None:
        while True:
            build = q.get()
            if build is None:
                return
            try:
                self._emit(build())
            except Exception:  # lineage reporting never fails a pipeline, nor stops its thread
                log.warning("fsmirror: sending an OpenLineage event failed", exc_info=True)
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending <= 0:
                        self._idle.notify_all()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every event submitted so far is sent; False if ``timeout`` passed first."""
        p = self._process
        if p is not None and p.pid_of_owner == os.getpid():
            return p.flush(timeout)
        if self._queue is None or self._pid != os.getpid():
            return True
        with self._idle:
            return self._idle.wait_for(lambda: self._pending <= 0, timeout)

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush, then let a sender process end (it ends by itself when this process does)."""
        done = self.flush(timeout)
        p = self._process
        if p is not None and p.pid_of_owner == os.getpid():
            p.close()
            self._process = None
        return done

    def _emit(self, event: Any) -> None:
        self.client.emit(event)

    def job_name(self, s: Step) -> str:
        if s.job:
            return s.job
        for m in s.outputs:
            return m.address
        return s.key or "fsmirror.run"

    def _run_event(self, s: Step, state: str) -> Any:
        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import error_message_run

        run_facets: dict[str, Any] = {"processing_engine": _engine_facet()}
        parent = parent_of(s)
        if parent is not None:
            run_facets["parent"] = _parent_facet(self.namespace, parent)
        if state == "FAIL" and s.error is not None:
            e = s.error if isinstance(s.error, ReportedError) else ReportedError.of(s.error)
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=e.message, programmingLanguage="python", stackTrace=e.stack
            )
        job_facets: dict[str, Any] = {"jobType": _job_type_facet()}  # a fresh dict: the client adds to it
        located = self._source_location(s.outputs)
        if located is not None:
            job_facets["sourceCodeLocation"] = located
        ended = state != "START"
        return RunEvent(
            eventType=getattr(RunState, state),
            eventTime=(s.ended_at or s.started_at) if ended else s.started_at,
            run=Run(runId=run_uuid(s), facets=run_facets),
            job=Job(namespace=self.namespace, name=self.job_name(s), facets=job_facets),
            inputs=[self._input(i) for i in s.inputs],
            outputs=[self._output(m) for m in s.outputs] if ended else [],
            producer=producer(),
        )

    def _source_location(self, outputs: Iterable[Manifest]) -> Any:
        from openlineage.client.facet_v2 import source_code_location_job

        for m in outputs:
            src = m.code.get("source_file")
            if not src:
                continue
            commit = (m.git or {}).get("commit")
            repo = _repo_of(os.path.dirname(os.path.abspath(src)))
            if repo is None:
                from pathlib import Path

                return source_code_location_job.SourceCodeLocationJobFacet(
                    type="file", url=Path(os.path.abspath(src)).as_uri(), path=src
                )
            top, remote = repo
            path = os.path.relpath(os.path.abspath(src), top).replace(os.sep, "/")
            from pathlib import Path

            return source_code_location_job.SourceCodeLocationJobFacet(
                type="git",
                url=remote or Path(top).as_uri(),
                repoUrl=remote,
                path=path,
                version=commit,
            )
        return None

    def _name(self, uri: str, segment: str, partition: Instance | None) -> DatasetName:
        return dataset_name(uri, segment, partition, self.azure_accounts)

    def _common_facets(self, n: DatasetName, fields: dict[str, Any]) -> dict[str, Any]:
        from openlineage.client.facet_v2 import dataset_version_dataset, symlinks_dataset

        return {
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=n.version),
            "symlinks": symlinks_dataset.SymlinksDatasetFacet(
                identifiers=[symlinks_dataset.Identifier(namespace=n.namespace, name=n.physical, type="file")]
            ),
            "fsmirror": _facet(fields),
        }

    def _input(self, i: Input) -> Any:
        from openlineage.client.event_v2 import InputDataset

        n = self._name(i.uri, i.run, i.partition)
        fields: dict[str, Any] = {
            "uri": i.uri,
            "manifest": names.manifest_file(i.uri.rpartition("/")[0], i.output_name),
            "address": i.address,
            "run": i.run,
            "partition": i.partition,
            "hash": None if i.hash is None else {"algorithm": i.hash.algorithm, "digest": i.hash.digest},
            "created_at": i.created_at,
        }
        return InputDataset(namespace=n.namespace, name=n.name, facets=self._common_facets(n, fields))

    def _output(self, m: Manifest) -> Any:
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import output_statistics_output_dataset, storage_dataset

        n = self._name(m.uri, m.segment, m.partition)
        facets = self._common_facets(n, _manifest_fields(m))
        facets["storage"] = storage_dataset.StorageDatasetFacet(storageLayer="fsmirror", fileFormat=m.format)
        rows = m.extra.get("rows")
        stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows if isinstance(rows, int) else None, size=m.size, fileCount=1
        )
        return OutputDataset(
            namespace=n.namespace, name=n.name, facets=facets, outputFacets={"outputStatistics": stats}
        )

    def _drop_event(self, m: Manifest, at: str | None = None) -> Any:
        """A DatasetEvent: the physical object of one run is gone; the stable dataset stays.

        The DROP names the run's object (the ``symlinks`` identifier outputs carry), not the
        stable dataset: gc never deletes a series' newest run, so the dataset itself lives on.
        """
        import datetime as _dt

        from openlineage.client.event_v2 import DatasetEvent, StaticDataset
        from openlineage.client.facet_v2 import (
            dataset_version_dataset,
            lifecycle_state_change_dataset,
            symlinks_dataset,
        )

        n = self._name(m.uri, m.segment, m.partition)
        change = lifecycle_state_change_dataset.LifecycleStateChange.DROP
        return DatasetEvent(
            eventTime=at or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds"),
            dataset=StaticDataset(
                namespace=n.namespace,
                name=n.physical,
                facets={
                    "lifecycleStateChange": lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
                        lifecycleStateChange=change
                    ),
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=n.version),
                    "symlinks": symlinks_dataset.SymlinksDatasetFacet(
                        identifiers=[
                            symlinks_dataset.Identifier(namespace=n.namespace, name=n.name, type="dataset")
                        ]
                    ),
                    "fsmirror": _facet(_manifest_fields(m)),
                },
            ),
            producer=producer(),
        )


# Facets that are the same for every event of a process (or of a parent run) are built once: an
# event's cost is mostly building and validating attrs records.


@functools.lru_cache(maxsize=1)
def _engine_facet() -> Any:
    from openlineage.client.facet_v2 import processing_engine_run

    return processing_engine_run.ProcessingEngineRunFacet(
        version=_version(), name="fsmirror", openlineageAdapterVersion=_client_version()
    )


@functools.lru_cache(maxsize=1)
def _job_type_facet() -> Any:
    from openlineage.client.facet_v2 import job_type_job

    return job_type_job.JobTypeJobFacet(processingType="BATCH", integration="FSMIRROR", jobType="TASK")


@functools.lru_cache(maxsize=256)
def _parent_facet(namespace: str, parent: Parent) -> Any:
    from openlineage.client.facet_v2 import parent_run

    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent.run_id),
        job=parent_run.Job(namespace=namespace, name=parent.job),
        root=parent_run.Root(
            run=parent_run.RootRun(runId=parent.run_id),
            job=parent_run.RootJob(namespace=namespace, name=parent.job),
        ),
    )


def _manifest_fields(m: Manifest) -> dict[str, Any]:
    return {
        "uri": m.uri,
        "manifest": names.manifest_file(m.uri.rpartition("/")[0], m.output_name),
        "address": m.address,
        "run": m.segment,
        "partition": m.partition,
        "hash": {"algorithm": m.hash.algorithm, "digest": m.hash.digest},
        "size": m.size,
        "created_at": m.created_at,
        "mirror": m.mirror,
    }


@functools.lru_cache(maxsize=1)
def _client_version() -> str:
    from importlib.metadata import version

    try:
        return version("openlineage-python")
    except Exception:
        return "unknown"


@functools.lru_cache(maxsize=1)
def _facet_class() -> Any:
    import attr
    from openlineage.client.generated.base import DatasetFacet

    @attr.define
    class FSMirrorDatasetFacet(DatasetFacet):  # type: ignore[misc]
        """Where the artifact of this run physically is and what proves its bytes (the manifest)."""

        uri: str
        manifest: str
        address: str
        run: str
        partition: str | None = None
        hash: dict[str, str] | None = None
        size: int | None = None
        created_at: str | None = None
        mirror: str | None = None

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA

    return FSMirrorDatasetFacet


def _facet(fields: dict[str, Any]) -> Any:
    return _facet_class()(**fields, producer=producer())


def _flush_at_exit(emitter: Emitter) -> None:
    """Flush ``emitter`` when this process ends: ``atexit``, and multiprocessing's own exit, which
    forked and spawned workers (Luigi's, Dagster's multiprocess executor) take without ``atexit``."""
    import atexit
    import sys
    import weakref

    ref = weakref.ref(emitter)

    def flush() -> None:
        e = ref()
        if e is not None:
            e.flush(timeout=10.0)

    atexit.register(flush)
    if "multiprocessing" in sys.modules:
        from multiprocessing import util

        util.Finalize(emitter, flush, exitpriority=100)


def flush(timeout: float | None = 30.0) -> bool:
    """Wait until the installed emitter has sent every event submitted so far."""
    return True if _installed is None else _installed.flush(timeout)


# -- installation ---------------------------------------------------------------------------------

_installed: Emitter | None = None
_install_lock = threading.Lock()


def install(
    namespace: str | None = None,
    client: Any = None,
    *,
    sender: Sender | None = None,
    background: bool = False,
) -> Emitter:
    """Register the emitter as a lineage listener (once per process; later calls return it).

    ``FSMirror(...)`` calls this on construction when OpenLineage is enabled (with the config's
    ``openlineage.sender``); call it yourself to pass a client. Raises ``ConfigError`` naming the
    extra when ``openlineage-python`` is missing.
    """
    global _installed
    with _install_lock:
        if _installed is None:
            import importlib.util

            try:
                found = importlib.util.find_spec("openlineage.client") is not None
            except ImportError:  # no "openlineage" package at all
                found = False
            if not found:
                from ..errors import ConfigError

                raise ConfigError(
                    "OpenLineage is enabled (config 'openlineage.enabled' or $FSMIRROR_OPENLINEAGE) but "
                    "openlineage-python is not installed: pip install 'fsmirror[openlineage]', or turn it off"
                )
            _installed = Emitter(namespace, client, sender=sender, background=background)
            lineage.add_listener(_installed)
        elif client is not None:
            _installed._client = client
        return _installed


def installed() -> Emitter | None:
    return _installed


def uninstall() -> None:
    """Remove the emitter (tests; a process that wants to stop emitting)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            lineage.remove_listener(_installed)
            _installed.close()
            _installed = None
