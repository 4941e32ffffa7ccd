"""The OpenLineage sender process: events built and sent beside the step, not in it.

``openlineage.sender: process`` (docs/openlineage.md, "Cost"). The step's thread takes a
snapshot of its scope (:class:`fsmirror.openlineage.Step`), encodes it and writes it to a pipe;
a child Python builds the ``RunEvent`` and hands it to a client of its own, configured the way
the client always is (``openlineage.yml``, ``$OPENLINEAGE_URL``...). What the step pays is the
snapshot, the encoding and one ``write``; the client's work runs on another core.

The child is started with ``subprocess``, not ``multiprocessing``: a spawned child re-imports
the user's ``__main__``, and a pipeline script without a ``__name__`` guard would run again. It
reads until its stdin closes, so what was written before the parent ended (even killed) still
goes out; a flush is a token it echoes once everything before it is sent.

The wire: each message is its length (4 bytes), a tag and a body. ``M``: a ``marshal`` of flat
tuples (:func:`encode`; four times cheaper than pickling the records, measured for benchmark row
20); ``P``: a pickle, for a snapshot holding something ``marshal`` cannot (an orchestrator record
with odd values). Length 0 is a flush token. Parent and child are the same interpreter
(``sys.executable``), so ``marshal``'s format is the same on both ends.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import pickle
import struct
import threading
from typing import TYPE_CHECKING, Any, Protocol

from .openlineage_records import ReportedError, Step

if TYPE_CHECKING:
    from ..model.record import Input, Manifest

__all__ = ["SenderProcess", "decode", "encode", "serve"]

log = logging.getLogger("fsmirror.openlineage")

_LENGTH = struct.Struct("!I")
_CHILD = (
    "from fsmirror.lineage import openlineage, openlineage_sender; "
    "openlineage_sender.serve(openlineage.Emitter())"
)
_MARSHAL, _PICKLE = b"M", b"P"


# -- the wire: flat tuples of what an event reads ----------------------------------------------------


def _hash(h: Any) -> tuple[str, str] | None:
    return None if h is None else (h.algorithm, h.digest)


def _manifest(m: Manifest) -> tuple[Any, ...]:
    """The fields of a manifest an event reads (``Emitter._output``, ``_drop_event``, ``job_name``)."""
    rows = m.extra.get("rows")
    return (
        m.uri,
        m.mirror,
        m.address,
        m.code.get("source_file"),
        None if m.git is None else m.git.get("commit"),
        m.segment,
        m.partition,
        m.output_name,
        m.format,
        m.size,
        _hash(m.hash),
        m.created_at,
        rows if isinstance(rows, int) else None,
    )


def _input(i: Input) -> tuple[Any, ...]:
    return (i.uri, i.address, i.run, i.output_name, i.partition, _hash(i.hash), i.created_at)


def encode(message: tuple[Any, ...]) -> bytes:
    """``("run", Step, state, namespace, accounts)`` or ``("drop", Manifest, at, ...)`` as a frame."""
    kind, payload, extra, namespace, accounts = message
    try:
        if kind == "run":
            s: Step = payload
            e = s.error
            error = None
            if e is not None:
                r = e if isinstance(e, ReportedError) else ReportedError.of(e)
                error = (r.message, r.stack)
            flat: Any = (
                s.job,
                s.key,
                s.id,
                dict(s.orchestrator),
                s.started_at,
                s.ended_at,
                error,
                tuple(_input(i) for i in s.inputs),
                tuple(_manifest(m) for m in s.outputs),
            )
        else:
            flat = _manifest(payload)
        body = _MARSHAL + marshal.dumps((kind, flat, extra, namespace, accounts))
    except ValueError:  # something marshal does not take: pickle it (the error as text)
        if kind == "run":
            message = (kind, payload.portable(), extra, namespace, accounts)
        body = _PICKLE + pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


def _unhash(h: Any) -> Any:
    from ..model.record import ContentHash

    return None if h is None else ContentHash(h[0], h[1])


def _unmanifest(t: tuple[Any, ...]) -> Manifest:
    """A manifest holding what an event reads, and only that: never committed, never written."""
    from ..model.record import Manifest

    uri, mirror, address, source_file, commit, segment, partition, output_name, fmt, size, h, at, rows = t
    return Manifest(
        uri=uri,
        mirror=mirror,
        code={"address": address, "source_file": source_file},
        git=None if commit is None else {"commit": commit},
        run_id=segment,
        segment=segment,
        run_source="",
        orchestrator={},
        partition=partition,
        output_name=output_name,
        format=fmt,
        requested_format=fmt,
        fell_back=False,
        python_type="",
        size=size,
        hash=_unhash(h),
        created_at=at,
        versions={},
        extra={} if rows is None else {"rows": rows},
    )


def decode(body: bytes) -> tuple[Any, ...]:
    """The message :func:`encode` framed (without its length)."""
    from ..model.record import Input

    if body[:1] == _PICKLE:
        return tuple(pickle.loads(body[1:]))
    kind, flat, extra, namespace, accounts = marshal.loads(body[1:])
    if kind != "run":
        return kind, _unmanifest(flat), extra, namespace, accounts
    job, key, sid, orchestrator, started, ended, error, inputs, outputs = flat
    step = Step(
        job,
        key,
        sid,
        orchestrator,
        started,
        ended,
        None if error is None else ReportedError(*error),
        tuple(Input(u, a, r, o, p, _unhash(h), c) for u, a, r, o, p, h, c in inputs),
        tuple(_unmanifest(m) for m in outputs),
    )
    return kind, step, extra, namespace, accounts


# -- the two ends --------------------------------------------------------------------------------


class SenderProcess:
    """The parent's end: the child process and its pipe.

    The step's own thread encodes and writes each message: measured, a feeder thread doing it
    instead cost more (it contends for the GIL with the step, as a sender thread does).
    """

    def __init__(self) -> None:
        import subprocess
        import sys

        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.pathsep.join(dict.fromkeys([package_parent, *(p for p in sys.path if p)]))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
            close_fds=True,
        )
        self.pid_of_owner = os.getpid()
        self._lock = threading.Lock()
        self._tokens = 0
        self._echoed = b""

    def send(self, message: tuple[Any, ...]) -> bool:
        """Write one message (an encoding error propagates); False when the child is gone."""
        frame = encode(message)
        with self._lock:
            try:
                self._write_all(frame)
            except (OSError, ValueError):  # a broken pipe, or closed
                return False
        return True

    def _write_all(self, data: bytes) -> None:
        """One ``write`` for a message (a blocking pipe takes it whole), looping only if cut short."""
        stdin = self.proc.stdin
        assert stdin is not None
        view = memoryview(data)
        while view:
            view = view[os.write(stdin.fileno(), view) :]

    def flush(self, timeout: float | None) -> bool:
        """Wait until the child has sent every message written before this call."""
        import select
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._tokens += 1
            token = f"{self._tokens}\n".encode()
            stdout = self.proc.stdout
            assert stdout is not None
            try:
                self._write_all(_LENGTH.pack(0))  # a flush token
            except (OSError, ValueError):
                return False
            fd = stdout.fileno()
            while token not in self._echoed:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                ready, _, _ = select.select([fd], [], [], left)
                if not ready:
                    return False
                chunk = os.read(fd, 4096)
                if not chunk:
                    return False  # the child ended
                self._echoed += chunk
            self._echoed = self._echoed.split(token, 1)[1]
            return True

    def close(self) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()  # the child sends what is left, then ends


class EventBuilder(Protocol):
    """What :func:`serve` asks of :class:`fsmirror.openlineage.Emitter`: build a message's event and
    send it, under the namespace and Azure accounts the message carries."""

    namespace: str
    azure_accounts: dict[str, str]

    def event_of(self, message: tuple[Any, ...], /) -> Any: ...

    def _emit(self, event: Any, /) -> None: ...


def serve(emitter: EventBuilder) -> None:
    """The child's end: build each event it is handed with ``emitter``, send it, echo flush tokens,
    end at EOF. The child's command (:data:`_CHILD`) makes the emitter: this module does not import
    :mod:`fsmirror.openlineage`, which imports it."""
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the pipeline; its events still go out
    echo = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # what a library prints cannot garble the echo
    stdin = sys.stdin.buffer
    flushed = 0
    while True:
        head = stdin.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (n,) = _LENGTH.unpack(head)
        if n == 0:
            flushed += 1
            with contextlib.suppress(OSError):  # the parent is gone: what it sent still goes out
                echo.write(f"{flushed}\n".encode())
            continue
        body = stdin.read(n)
        if len(body) < n:
            return
        try:
            kind, payload, extra, namespace, accounts = decode(body)
            emitter.namespace, emitter.azure_accounts = namespace, accounts
            emitter._emit(emitter.event_of((kind, payload, extra)))
        except Exception:  # lineage reporting never fails a pipeline, nor stops its sender
            log.warning("fsmirror: sending an OpenLineage event failed", exc_info=True)
