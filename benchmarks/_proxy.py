"""A TCP proxy on 127.0.0.1 that delays every chunk, in each direction, by a fixed latency.

moto answers in well under a millisecond, so on moto alone a protocol that
costs eight round trips looks nearly as cheap as one that costs one. Real S3
answers a small request in 10-30 ms. Put this proxy between the client and
moto and every round trip costs ``2 * delay`` (15 ms each way: 30 ms), so the
number of *sequential* round trips shows up in the wall time as it would
against S3. botocore sends ``Expect: 100-continue`` on PUTs: the headers go
out, the 100 comes back, then the body, so a PUT costs two round trips here,
raw ``pipe_file`` too.

Each chunk read from one side is written to the other side ``delay`` seconds
after it arrived, without serialising the chunks behind each other's delay
(a stream of chunks is shifted in time, not slowed down), which is what a long
wire does.

Bounded: at most ``max_connections`` connections at once (more are refused),
at most ``max_pending`` bytes queued per direction (the reader waits), and
``stop()`` closes the listener and every connection and joins the thread.

    with LatencyProxy(target_port=moto.port, delay=0.015) as proxy:
        fs = s3fs.S3FileSystem(..., client_kwargs={"endpoint_url": proxy.endpoint_url})

Also runnable on its own (its own process, so it never competes with an
in-process moto server for the GIL):

    python -m benchmarks._proxy --target-port 5000 --port 5001 --delay-ms 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
import threading
import time
from typing import Any

__all__ = ["LatencyProxy", "ProxyProcess", "DELAY", "main"]

DELAY = 0.015  # seconds each way: a 30 ms round trip, about what a small request to real S3 costs
_CHUNK = 256 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LatencyProxy:
    """Forward ``127.0.0.1:port`` to ``target_host:target_port``, delaying each chunk each way.

    Runs its own asyncio loop on a daemon thread; ``start()`` returns once the
    port listens, ``stop()`` returns once every connection is closed.
    """

    def __init__(
        self,
        target_port: int,
        *,
        delay: float = DELAY,
        port: int = 0,
        target_host: str = "127.0.0.1",
        max_connections: int = 256,
        max_pending: int = 8 * 1024 * 1024,
    ) -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self.target_host, self.target_port = target_host, target_port
        self.delay = delay
        self.port = port or _free_port()
        self.max_connections = max_connections
        self.max_pending = max_pending
        self.connections = 0  # accepted since start (refused ones not counted)
        self.refused = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> LatencyProxy:
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        self._thread = threading.Thread(target=self._run, name=f"latency-proxy-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"latency proxy on 127.0.0.1:{self.port} did not start within {timeout}s")
        if self._error is not None:
            raise RuntimeError(f"latency proxy on 127.0.0.1:{self.port} failed to start") from self._error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"latency proxy on 127.0.0.1:{self.port} did not stop within {timeout}s")
        self._thread = self._loop = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._accept, "127.0.0.1", self.port, backlog=self.max_connections)
            )
        except BaseException as e:
            self._error = e
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        assert self._loop is not None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._loop.call_soon(self._loop.stop)

    # -- forwarding --------------------------------------------------------------------

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._tasks) >= self.max_connections:
            self.refused += 1
            client_w.close()
            return
        self._tasks.add(task)
        self.connections += 1
        try:
            try:
                server_r, server_w = await asyncio.open_connection(self.target_host, self.target_port)
            except OSError:
                client_w.close()
                return
            for w in (client_w, server_w):
                sock = w.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pipes = [
                asyncio.ensure_future(self._pipe(client_r, server_w)),
                asyncio.ensure_future(self._pipe(server_r, client_w)),
            ]
            try:
                # Either side closing ends the connection once the other direction has drained.
                await asyncio.gather(*pipes)
            finally:
                for p in pipes:
                    p.cancel()
                for w in (client_w, server_w):
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy reader -> writer, each chunk sent ``delay`` after it arrived; EOF is delayed alike."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        pending = 0
        room = asyncio.Event()
        room.set()

        async def send() -> None:
            nonlocal pending
            while True:
                due, chunk = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not chunk:  # EOF from the reader, delivered late like the data
                    with contextlib.suppress(OSError, RuntimeError):
                        if writer.can_write_eof():
                            writer.write_eof()
                    return
                writer.write(chunk)
                pending -= len(chunk)
                if pending <= self.max_pending:
                    room.set()
                await writer.drain()

        sender = asyncio.ensure_future(send())
        try:
            while True:
                try:
                    chunk = await reader.read(_CHUNK)
                except (ConnectionError, OSError):
                    chunk = b""
                queue.put_nowait((time.monotonic() + self.delay, chunk))
                if not chunk:
                    break
                pending += len(chunk)
                if pending > self.max_pending:
                    room.clear()
                    await room.wait()
            await sender
        except (ConnectionError, OSError):
            pass
        finally:
            sender.cancel()


def main(argv: list[str] | None = None) -> int:
    """Run one proxy until SIGTERM/SIGINT (or ``--seconds`` elapse); prints its port when listening."""
    p = argparse.ArgumentParser(prog="python -m benchmarks._proxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--target-port", type=int, required=True)
    p.add_argument("--target-host", default="127.0.0.1")
    p.add_argument(
        "--port", type=int, default=0, help="port to listen on, on 127.0.0.1 (default: a free one)"
    )
    p.add_argument("--delay-ms", type=float, default=DELAY * 1000, help="delay per chunk each way (ms)")
    p.add_argument("--seconds", type=float, default=3600.0, help="stop by itself after this long")
    opts = p.parse_args(argv)
    proxy = LatencyProxy(
        opts.target_port, delay=opts.delay_ms / 1000, port=opts.port, target_host=opts.target_host
    )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    with proxy:
        print(proxy.port, flush=True)
        done.wait(opts.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())


class ProxyProcess:
    """A :class:`LatencyProxy` in a child process (``python benchmarks/_proxy.py``).

    The benchmarks run moto's server in their own process; a proxy thread there
    would compete with moto's threads for one GIL and slow the server down. In
    its own process it only costs a core's share of CPU, like a real network.
    """

    def __init__(self, target_port: int, *, delay: float = DELAY, lifetime: float = 4 * 3600.0) -> None:
        self.target_port, self.delay, self.lifetime = target_port, delay, lifetime
        self.port = 0
        self._proc: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> ProxyProcess:
        import os
        import subprocess

        self._proc = subprocess.Popen(
            [
                sys.executable,
                os.path.abspath(__file__),
                "--target-port",
                str(self.target_port),
                "--delay-ms",
                repr(self.delay * 1000),
                "--seconds",
                repr(self.lifetime),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip().isdigit():
            self.stop()
            raise RuntimeError(f"latency proxy process did not report its port within {timeout}s")
        self.port = int(line[0])
        return self

    def stop(self, timeout: float = 10.0) -> None:
        import subprocess

        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
