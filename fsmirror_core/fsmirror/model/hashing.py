"""Content hashing while bytes stream out, without a second pass.

blake3 is the default (several times faster than sha256 on one core and the
field's fast cryptographic hash); sha256 stays available and is what fsmirror
1.0 manifests recorded. The figures that chose the default are in
``benchmarks/results.md``.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import threading
from typing import Any

from ..errors import FormatError

__all__ = ["HashingWriter", "new_hasher", "hash_bytes", "ALGORITHMS"]

ALGORITHMS = ("blake3", "sha256")
_ASYNC_HASH_MIN = 1024 * 1024
_hash_pool: concurrent.futures.ThreadPoolExecutor | None = None
_hash_pool_lock = threading.Lock()


def new_hasher(algorithm: str) -> Any:
    """A hashlib-like object (``update``/``hexdigest``) for ``algorithm``."""
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "blake3":
        try:
            from blake3 import blake3
        except ImportError as e:  # pragma: no cover - blake3 is a core dependency
            raise FormatError("the blake3 hash needs the blake3 package: pip install blake3") from e
        return blake3()
    raise FormatError(f"unknown hash algorithm {algorithm!r}; known: {', '.join(ALGORITHMS)}")


def hash_bytes(data: bytes, algorithm: str) -> str:
    h = new_hasher(algorithm)
    h.update(data)
    return str(h.hexdigest())


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _hash_pool
    with _hash_pool_lock:
        if _hash_pool is None:
            _hash_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fsmirror-hash")
        return _hash_pool


class HashingWriter(io.RawIOBase):
    """Pass bytes through to ``f`` while hashing them, without a second pass.

    Immutable chunks are hashed on a worker thread while the caller goes on
    producing the next one (hashlib releases the GIL), so hashing hides behind
    serialization and I/O instead of adding to it. pyarrow writes a parquet
    file as many ~64 KB pages, so small chunks are batched (references only,
    no copy) and handed to the worker about once a megabyte: one hand-off per
    chunk would cost more than the hashing it hides.
    """

    def __init__(self, f: Any, algorithm: str = "blake3") -> None:
        self._f = f
        self.algorithm = algorithm
        self._h = new_hasher(algorithm)
        self._pending: concurrent.futures.Future[None] | None = None
        self._batch: list[bytes] = []
        self._batched = 0
        self.size = 0
        self.manifest: Any = None  # the committed record, set when the write commits

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = len(b) if isinstance(b, bytes) else memoryview(b).nbytes
        if isinstance(b, bytes):
            self._batch.append(b)
            self._batched += n
            if self._batched >= _ASYNC_HASH_MIN:
                self._submit()
        else:  # a mutable buffer may change once write() returns: hash it now, in order
            self._drain()
            view = memoryview(b)
            # pickle protocol 5 hands out-of-band buffers (numpy arrays) of any shape and item
            # size: hash their bytes, flat (blake3 takes only flat byte buffers)
            self._h.update(view.cast("B") if view.c_contiguous else view.tobytes())
        self._f.write(b)
        self.size += n
        return n

    def _submit(self) -> None:
        batch, prev, h = self._batch, self._pending, self._h
        self._batch, self._batched = [], 0

        def update() -> None:
            if prev is not None:
                prev.result()
            for chunk in batch:
                h.update(chunk)

        self._pending = _pool().submit(update)

    def _drain(self) -> None:
        if self._pending is None:  # small artifact: no thread hop
            for chunk in self._batch:
                self._h.update(chunk)
        else:
            self._submit()
            assert self._pending is not None
            self._pending.result()
            self._pending = None
        self._batch, self._batched = [], 0

    def hexdigest(self) -> str:
        self._drain()
        return str(self._h.hexdigest())

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._f.flush()
