"""Count the S3 requests an operation sends, by S3 operation name, with a botocore event hook.

    from benchmarks._requests import count_requests

    with count_requests(fm.filesystem) as seen:
        fm.write(obj, {"a": 1}, run_id="r1", format="json")
    seen                 # Requests({'PutObject': 3, 'GetObject': 4, 'DeleteObject': 1})
    seen.total()         # 8
    seen.sequence        # ['PutObject', 'GetObject', ...] in the order they were sent
    seen.depth()         # 8: the longest chain of requests each sent after the last one answered
    seen.depth(methods={"PUT"})  # 4: the same, counting only HTTP PUTs (two round trips each)

The hook is aiobotocore's ``before-send.s3.<Operation>`` event, emitted once per
HTTP attempt (a retried request counts twice, as it costs twice), registered on
the s3fs filesystem's own client (``fs.s3.meta.events``), so only that
filesystem's requests are counted; ``response-received.s3.<Operation>`` marks
the answer, from which :meth:`Requests.depth` tells sequential requests from
concurrent ones. Works for tests too: ``from benchmarks._requests import
count_requests`` with the repository root on ``sys.path``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Requests", "Sent", "WRITES", "count_requests", "s3_client"]

WRITES = frozenset(
    {
        "PutObject",
        "CopyObject",
        "DeleteObject",
        "DeleteObjects",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    }
)
"""Operations that change the store: the ones a commit protocol has to order."""


@dataclass
class Sent:
    """One HTTP attempt: its operation, HTTP method, and when it was sent and answered (``perf_counter``)."""

    op: str
    method: str
    start: float
    end: float | None = None


class Requests(Counter[str]):
    """A ``Counter`` of requests by S3 operation name, plus their order and timing."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []

    @property
    def sequence(self) -> list[str]:
        return [s.op for s in self.sent]

    def total(self) -> int:
        return sum(self.values())

    def depth(self, ops: Iterable[str] | None = None, *, methods: Iterable[str] | None = None) -> int:
        """The longest chain of requests each sent after the previous one was answered.

        Only requests of ``ops`` (S3 operation names) and ``methods`` (HTTP
        methods) are chained when given; default: all.

        Sequential requests each cost a round trip; concurrent ones share one.
        A protocol's latency is about ``depth()`` round trips (PUTs two each,
        behind ``Expect: 100-continue``).
        """
        wanted = None if ops is None else set(ops)
        verbs = None if methods is None else {m.upper() for m in methods}
        chosen = [
            s
            for s in self.sent
            if (wanted is None or s.op in wanted) and (verbs is None or s.method in verbs)
        ]
        chain: list[int] = []
        for i, s in enumerate(chosen):
            before = [chain[j] for j in range(i) if chosen[j].end is not None and chosen[j].end <= s.start]
            chain.append(1 + max(before, default=0))
        return max(chain, default=0)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: what a benchmark stores in ``extra_info``."""
        return {
            "total": self.total(),
            "by_operation": dict(sorted(self.items())),
            "sequence": self.sequence,
            "methods": dict(sorted(Counter(s.method for s in self.sent).items())),
            "depth": self.depth(),
            "write_depth": self.depth(WRITES),
            "put_depth": self.depth(methods={"PUT"}),
        }

    def __repr__(self) -> str:
        return f"Requests({dict(sorted(self.items()))!r})"


def s3_client(fs: Any) -> Any:
    """The aiobotocore client behind an s3fs filesystem (connects it if it has none yet)."""
    try:
        return fs.s3  # s3fs: a property that connects on first use
    except AttributeError as e:
        raise TypeError(f"{type(fs).__name__} is not an s3fs filesystem: nothing to count") from e


@contextlib.contextmanager
def count_requests(fs: Any) -> Iterator[Requests]:
    """Count the S3 requests ``fs`` (an ``s3fs.S3FileSystem``) sends inside the block.

    Raises ``RuntimeError`` at the end if s3fs replaced its client during the
    block (a refreshed session), since requests on the new client were missed.
    """
    client = s3_client(fs)
    seen = Requests()
    lock = threading.Lock()
    open_by_op: dict[str, list[Sent]] = {}

    def on_send(event_name: str = "", request: Any = None, **_: Any) -> None:
        op = event_name.rsplit(".", 1)[-1]
        s = Sent(op, str(getattr(request, "method", "") or "").upper(), time.perf_counter())
        with lock:
            seen[op] += 1
            seen.sent.append(s)
            open_by_op.setdefault(op, []).append(s)

    def on_response(event_name: str = "", **_: Any) -> None:
        op = event_name.rsplit(".", 1)[-1]
        now = time.perf_counter()
        with lock:
            waiting = open_by_op.get(op)
            if waiting:
                waiting.pop(0).end = now  # answers of one operation come back about in order

    events = client.meta.events
    events.register("before-send.s3", on_send, unique_id=f"fsmirror-bench-send-{id(seen)}")
    events.register("response-received.s3", on_response, unique_id=f"fsmirror-bench-recv-{id(seen)}")
    try:
        yield seen
    finally:
        events.unregister("before-send.s3", on_send, unique_id=f"fsmirror-bench-send-{id(seen)}")
        events.unregister("response-received.s3", on_response, unique_id=f"fsmirror-bench-recv-{id(seen)}")
    if getattr(fs, "_s3", client) is not client:
        raise RuntimeError("s3fs replaced its client while requests were being counted: counts are partial")
