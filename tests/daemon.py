"""A server binary the tests run on 127.0.0.1 with a private folder: start, wait, log, stop.

Subclasses (``PrometheusServer``, ``AlertmanagerServer``) write their config into ``self.dir`` and
call ``_launch(args, "/-/ready")``; ``stop()`` terminates the process (kills it if needed) and
removes the folder. Every wait is bounded and raises ``TimeoutError`` with what was last seen.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

__all__ = ["LocalDaemon", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalDaemon:
    name = "server"

    def __init__(self, binary: str, timeout: float):
        self.binary = binary
        self.timeout = timeout
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.dir: str | None = None
        self._client = httpx.Client(timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self, prefix: str) -> Path:
        """A new private folder and a free port, before ``_launch``."""
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        return Path(self.dir)

    def _launch(self, args: list[str], ready_path: str) -> None:
        self._log = open(Path(self.dir) / "server.log", "wb")
        self.process = subprocess.Popen([self.binary, *args], stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait(lambda: self._client.get(self.url + ready_path).status_code == 200, f"{self.name} ready")
        except BaseException:
            self.stop()
            raise

    def log(self) -> str:
        return (Path(self.dir) / "server.log").read_text(errors="replace") if self.dir else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
            self._log.close()
        self._client.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self):
        raise NotImplementedError

    def _wait(self, check, what: str, timeout: float | None = None):
        deadline = time.monotonic() + (timeout or self.timeout)
        last = None
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()[-2000:]}")
            try:
                last = check()
                if last:
                    return last
            except (httpx.TransportError, ValueError) as error:
                last = error
            if time.monotonic() > deadline:
                raise TimeoutError(f"waiting for {what}: last saw {last!r}")
            time.sleep(0.1)
