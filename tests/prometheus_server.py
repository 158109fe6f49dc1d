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
        prom.query_exemplars("x_bucket", start, end) # with extra_args=["--enable-feature=exemplar-storage"]
        prom.wait_until("sum(up)", lambda r: r and float(r[0]["value"][1]) == 1)

Every wait is bounded (``timeout`` seconds) and raises ``TimeoutError`` with
what was last seen. ``stop()`` terminates the process (kills it if needed)
and removes the temporary directory.
"""

from __future__ import annotations

from pathlib import Path

from tests.daemon import LocalDaemon

__all__ = ["PrometheusServer", "PROMETHEUS"]

PROMETHEUS = "/usr/bin/prometheus"


class PrometheusServer(LocalDaemon):
    """Prometheus running ``config_yaml`` (a string), with ``rule_files`` appended as absolute paths."""

    name = "Prometheus"

    def __init__(self, config_yaml: str, rule_files=(), *, binary: str = PROMETHEUS, timeout: float = 30.0,
                 extra_args=()):
        super().__init__(binary, timeout)
        self.config_yaml = config_yaml
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.extra_args = list(extra_args)  # more flags, e.g. --rules.alert.resend-delay=1s

    def start(self) -> "PrometheusServer":
        folder = self._prepare("prometheus-test-")
        config = self.config_yaml
        if self.rule_files:
            config += "\nrule_files:\n" + "".join(f"  - {path!r}\n" for path in self.rule_files)
        config_path = folder / "prometheus.yml"
        config_path.write_text(config)
        self._launch([
            f"--config.file={config_path}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
            *self.extra_args,
        ], "/-/ready")
        return self

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

    def query_exemplars(self, expr: str, start: float, end: float) -> list:
        """``/api/v1/query_exemplars`` (needs ``--enable-feature=exemplar-storage``): one entry per series,
        with ``seriesLabels`` and ``exemplars`` (``labels``, ``value``, ``timestamp``)."""
        return self._api("/api/v1/query_exemplars", {"query": expr, "start": start, "end": end})

    def targets(self) -> list:
        return self._api("/api/v1/targets", {})["activeTargets"]

    def rules(self) -> list:
        return self._api("/api/v1/rules", {})["groups"]

    # -- waits --------------------------------------------------------------

    def wait_for_targets_up(self, count: int = 1, timeout: float | None = None) -> list:
        """Wait until at least ``count`` targets were scraped successfully."""

        def up():
            targets = [t for t in self.targets() if t["health"] == "up"]
            return targets if len(targets) >= count else None

        return self._wait(up, f"{count} target(s) up", timeout)

    def wait_until(self, expr: str, predicate, timeout: float | None = None) -> list:
        """Poll an instant query until ``predicate(result)`` is true; returns that result."""
        return self._wait(lambda: (lambda r: r if predicate(r) else None)(self.query(expr)), f"{expr!r} to match", timeout)
