"""Run an ASGI app on 127.0.0.1 in a background thread, on a free port.

Used by the demo, the tests and the benchmarks to start the fake provider and
the exporter without any setup::

    with LocalServer(app) as server:
        httpx.get(server.url + "/healthz")

The socket is bound before the server starts, so the port is known and free;
``stop()`` (or leaving the ``with`` block) shuts the server down and joins the
thread, bounded by ``timeout`` seconds.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

__all__ = ["LocalServer"]


class LocalServer:
    """An ASGI app served by uvicorn on ``127.0.0.1:<free port>`` in a thread."""

    def __init__(self, app, *, host: str = "127.0.0.1", port: int = 0, timeout: float = 10.0, **uvicorn_options):
        self.app = app
        self.host = host
        self.timeout = timeout
        # IPPROTO_TCP (not 0) so asyncio sets TCP_NODELAY on accepted connections (no 40 ms delayed-ACK stalls).
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        options = {"log_level": "warning", "access_log": False, "lifespan": "on"}
        options.update(uvicorn_options)
        self._server = uvicorn.Server(uvicorn.Config(app, **options))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "LocalServer":
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"local-server-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"server on {self.url} failed to start")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"server on {self.url} did not start within {self.timeout}s")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(self.timeout)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
