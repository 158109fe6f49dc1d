"""Shared parts of the reliability tests: a real exporter process, an SDK-side export ledger,
a simple priced chat workload, and readers for ``/metrics`` and ``/proc``.

::

    with ExporterProcess(state_file=tmp_path / "state.json") as exporter:     # `genai-lens serve` subprocess
        configured = lens.configure(endpoint=exporter.url, set_global=False, export_interval_seconds=0.2)
        ledger = Ledger.install(configured)            # records what every OTLP export carried and its result
        client = openai_client(provider_url)
        chat(client, input_tokens=120, output_tokens=30)
        configured.force_flush()
        ledger.delivered()["tokens"]                   # tokens in exports that succeeded
        exporter.stop()                                # SIGTERM: graceful, writes the state file

Every wait is bounded and every process started here is stopped by its owner.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from opentelemetry.sdk.metrics.export import MetricExportResult
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "GENAI_LENS", "MODEL", "OPENAI_KEY", "free_port", "ExporterProcess", "Ledger", "openai_client", "chat",
    "call_cost", "served_totals", "proc_status", "open_fds", "wait_for",
]

GENAI_LENS = str(Path(sys.executable).with_name("genai-lens"))
MODEL = "gpt-4o-mini"
PRICE_IN, PRICE_OUT = 0.15 / 1e6, 0.60 / 1e6    # gpt-4o-mini, USD per token (tests/workload_expectations.PRICES)
OPENAI_KEY = "sk-reliability-secret-9f8e7d6c5b4a39281706"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, what: str, timeout: float = 20.0, interval: float = 0.05):
    """Poll ``check()`` until it returns something true; raise ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.TransportError, OSError) as error:
            last = error
        time.sleep(interval)
    raise TimeoutError(f"waiting for {what}: last saw {last!r}")


class ExporterProcess:
    """``genai-lens serve`` as a real subprocess on 127.0.0.1; ``stop()`` sends SIGTERM (graceful)."""

    def __init__(self, port: int | None = None, state_file=None, env: dict | None = None, log_path=None):
        self.port = port or free_port()
        self.state_file = state_file
        self.env = {**os.environ, "GENAI_LENS_NEW_SERIES_HOLD_SECONDS": "0", **(env or {})}
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ExporterProcess":
        args = [GENAI_LENS, "serve", "--port", str(self.port), "--log-level", "info"]
        if self.state_file is not None:
            args += ["--state-file", str(self.state_file)]
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            wait_for(self._ready, f"exporter on port {self.port} ready", timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"exporter exited with {self.process.returncode}")
        return httpx.get(self.url + "/readyz", timeout=1).status_code == 200

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (kill after ``timeout``); returns the exit code."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait(timeout=timeout)
            self.process = None
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None
        return code

    def __enter__(self) -> "ExporterProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- the SDK side ------------------------------------------------------------------------

@dataclass
class Export:
    """One call of the OTLP metric exporter: what it carried and whether it reported success."""

    ok: bool
    seconds: float = 0.0
    tokens: float = 0.0
    calls: float = 0.0
    cost: float = 0.0
    points: int = 0


def _carried(metrics_data) -> Export:
    out = Export(ok=False)
    for rm in metrics_data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    out.points += 1
                    if metric.name == "gen_ai.client.token.usage":
                        out.tokens += point.sum
                    elif metric.name == "gen_ai.client.operation.duration":
                        out.calls += point.count
                    elif metric.name == "genai_lens.cost":
                        out.cost += point.value
    return out


@dataclass
class Ledger:
    """Wraps a configured SDK's OTLP metric exporter and records every export's content and result.

    The OTLP exporter's own retries happen inside one ``export`` call, so a batch counts as
    delivered if and only if ``export`` returned SUCCESS (retries included)."""

    exports: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def install(cls, configured) -> "Ledger":
        ledger = cls()
        exporter = configured.metric_exporter   # the DeliveringMetricExporter configure() made
        original = exporter.export

        def export(metrics_data, timeout_millis: float = 10_000, **kwargs):
            started = time.monotonic()
            result = original(metrics_data, timeout_millis=timeout_millis, **kwargs)
            record = _carried(metrics_data)
            record.ok = result == MetricExportResult.SUCCESS
            record.seconds = time.monotonic() - started
            with ledger.lock:
                ledger.exports.append(record)
            return result

        exporter.export = export
        return ledger

    def _sum(self, ok: bool | None) -> dict:
        with self.lock:
            rows = [e for e in self.exports if ok is None or e.ok == ok]
        return {"tokens": sum(e.tokens for e in rows), "calls": sum(e.calls for e in rows),
                "cost": sum(e.cost for e in rows), "exports": len(rows),
                "longest_seconds": max((e.seconds for e in rows), default=0.0)}

    def delivered(self) -> dict:
        return self._sum(True)

    def failed(self) -> dict:
        return self._sum(False)

    def carried(self) -> dict:
        return self._sum(None)


def openai_client(provider_url: str, api_key: str = OPENAI_KEY, **kwargs):
    import openai

    return openai.OpenAI(base_url=provider_url + "/v1", api_key=api_key, max_retries=0, **kwargs)


def chat(client, input_tokens: int, output_tokens: int, prompt: str = "Say hello.", **headers) -> str:
    """One non-streaming chat call with exact token counts; returns the reply text."""
    response = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}],
        extra_headers={"x-fake-input-tokens": str(input_tokens), "x-fake-output-tokens": str(output_tokens), **headers})
    return response.choices[0].message.content


def call_cost(input_tokens: int, output_tokens: int) -> float:
    return input_tokens * PRICE_IN + output_tokens * PRICE_OUT


def served_totals(text: str, **match) -> dict:
    """Tokens, calls (errors included) and cost summed over every series of a ``/metrics`` text whose labels include ``match``."""
    out = {"tokens": 0.0, "calls": 0.0, "cost": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if any(sample.labels.get(k) != v for k, v in match.items()):
                continue
            if sample.name == "gen_ai_client_token_usage_sum":
                out["tokens"] += sample.value
            elif sample.name == "gen_ai_client_operation_duration_seconds_count":
                out["calls"] += sample.value
            elif sample.name == "genai_lens_cost_usd_total":
                out["cost"] += sample.value
    return out


# -- /proc ---------------------------------------------------------------------------------

def proc_status(pid: int | str = "self") -> dict:
    """``VmRSS`` (kB) and ``Threads`` of a process, from ``/proc/<pid>/status``."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            out[key] = int(value.split()[0])
    return out


def open_fds(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
