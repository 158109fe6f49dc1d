"""A faulty HTTP/1.1 proxy on 127.0.0.1 for the fault-injection tests: per request it passes the
request on, cuts the connection before the request reaches the upstream, cuts it after the upstream
answered (the answer is lost), or delays the answer; with several upstreams it takes turns.

::

    with FaultyProxy([exporter_url], decide=lambda n: "cut_after" if n % 5 == 0 else "pass") as proxy:
        ...  # send to proxy.url
    proxy.counts       # {"pass": 40, "cut_after": 10}

``decide(n)`` gets the request's number (0, 1, ...) and returns ``"pass"``, ``"cut_before"``,
``"cut_after"`` or ``"delay:<seconds>"``. Every request goes to the upstream on a new connection
(``Connection: close``); the client side stays open between requests like a real proxy's. The
proxy runs its own event loop on a thread, and stops itself: every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from urllib.parse import urlsplit

__all__ = ["FaultyProxy"]

_LIMIT = 64 * 1024 * 1024


async def _read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """(head, body) of one HTTP/1.1 message with a Content-Length (or none); None at EOF."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, asyncio.TimeoutError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await asyncio.wait_for(reader.readexactly(length), 60) if length else b""
    return head, body


def _with_close(head: bytes) -> bytes:
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines[:-2] + [b"Connection: close", b"", b""])


class FaultyProxy:
    def __init__(self, upstreams: list[str], decide=lambda n: "pass"):
        self.upstreams = [urlsplit(u) for u in upstreams]
        self.decide = decide
        self.counts: Counter = Counter()
        self._n = 0
        self._turn = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faulty-proxy", daemon=True)
        self._server = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "FaultyProxy":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, "127.0.0.1", 0, limit=_LIMIT), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        async def close():
            self._server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                message = await _read_message(reader)
                if message is None:
                    return
                n, self._n = self._n, self._n + 1
                action = self.decide(n)
                self.counts[action.split(":")[0]] += 1
                if action == "cut_before":
                    return
                upstream = self.upstreams[self._turn % len(self.upstreams)]
                self._turn += 1
                answer = await self._forward(upstream, *message)
                if action == "cut_after" or answer is None:
                    return
                if action.startswith("delay:"):
                    await asyncio.sleep(float(action.split(":")[1]))
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def _forward(self, upstream, head: bytes, body: bytes) -> bytes | None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(upstream.hostname, upstream.port, limit=_LIMIT), 10)
        except (OSError, asyncio.TimeoutError):
            return None  # the upstream is down: the client sees the connection cut
        try:
            writer.write(_with_close(head) + body)
            await writer.drain()
            response = await _read_message(reader)
            return None if response is None else response[0] + response[1]
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            return None
        finally:
            writer.close()
