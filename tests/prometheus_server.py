"""A real Prometheus for tests: Debian's ``/usr/bin/prometheus`` on 127.0.0.1, private config and storage.

::

    config = '''
    global: {scrape_interval: 1s, evaluation_interval: 1s}
    scrape_configs:
      - job_name: exporter
        static_configs: [{targets: ["127.0.0.1:8000"]}]
    '''
    with PrometheusServer(config, rule_files=["prometheus/rules.yml"]) as prom:
        prom.wait_for_targets_up()
        prom.query("up")                             # the ``result`` list of an instant query
        prom.wait_until("sum(up)", lambda r: r and float(r[0]["value"][1]) == 1)

Every wait is bounded (``timeout`` seconds) and raises ``TimeoutError`` with
what was last seen. ``stop()`` terminates the process (kills it if needed)
and removes the temporary directory.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

__all__ = ["PrometheusServer", "PROMETHEUS"]

PROMETHEUS = "/usr/bin/prometheus"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusServer:
    """Prometheus running ``config_yaml`` (a string), with ``rule_files`` appended as absolute paths."""

    def __init__(self, config_yaml: str, rule_files=(), *, binary: str = PROMETHEUS, timeout: float = 30.0):
        self.config_yaml = config_yaml
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.binary = binary
        self.timeout = timeout
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._dir: str | None = None
        self._client = httpx.Client(timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "PrometheusServer":
        self._dir = tempfile.mkdtemp(prefix="prometheus-test-")
        config = self.config_yaml
        if self.rule_files:
            config += "\nrule_files:\n" + "".join(f"  - {path!r}\n" for path in self.rule_files)
        config_path = Path(self._dir) / "prometheus.yml"
        config_path.write_text(config)
        self.port = _free_port()
        self._log = open(Path(self._dir) / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={Path(self._dir) / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait(lambda: self._client.get(self.url + "/-/ready").status_code == 200, "Prometheus ready")
        except BaseException:
            self.stop()
            raise
        return self

    def log(self) -> str:
        return (Path(self._dir) / "prometheus.log").read_text(errors="replace") if self._dir else ""

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
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- API --------------------------------------------------------------

    def _api(self, path: str, params: dict) -> list | dict:
        response = self._client.get(self.url + path, params=params)
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus {path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, time: float | None = None) -> list:
        """An instant query; returns the ``result`` list (vector entries have ``metric`` and ``value``)."""
        params = {"query": expr}
        if time is not None:
            params["time"] = f"{time:.3f}"
        return self._api("/api/v1/query", params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list:
        """A range query; returns the ``result`` list (matrix entries have ``metric`` and ``values``)."""
        return self._api("/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step})["result"]

    def targets(self) -> list:
        return self._api("/api/v1/targets", {})["activeTargets"]

    def rules(self) -> list:
        return self._api("/api/v1/rules", {})["groups"]

    # -- waits --------------------------------------------------------------

    def _wait(self, check, what: str, timeout: float | None = None):
        deadline = time.monotonic() + (timeout or self.timeout)
        last = None
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Prometheus exited with {self.process.returncode}:\n{self.log()[-2000:]}")
            try:
                last = check()
                if last:
                    return last
            except (httpx.TransportError, ValueError) as error:
                last = error
            if time.monotonic() > deadline:
                raise TimeoutError(f"waiting for {what}: last saw {last!r}")
            time.sleep(0.1)

    def wait_for_targets_up(self, count: int = 1, timeout: float | None = None) -> list:
        """Wait until at least ``count`` targets were scraped successfully."""

        def up():
            targets = [t for t in self.targets() if t["health"] == "up"]
            return targets if len(targets) >= count else None

        return self._wait(up, f"{count} target(s) up", timeout)

    def wait_until(self, expr: str, predicate, timeout: float | None = None) -> list:
        """Poll an instant query until ``predicate(result)`` is true; returns that result."""
        return self._wait(lambda: (lambda r: r if predicate(r) else None)(self.query(expr)), f"{expr!r} to match", timeout)
