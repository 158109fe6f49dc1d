"""Fixtures of the integration tests: the whole pipeline scraped by a real Prometheus, and a
Prometheus holding 35 days of synthetic history made with ``promtool tsdb create-blocks-from openmetrics``.

``live`` (module scope) starts the exporter (new series held at 0 for ``HOLD`` s, more than two
scrape intervals) and the fake provider on 127.0.0.1, then Debian's Prometheus (scrape and rule
evaluation every 1 s, the project's rule files), drives the demo workload plus one call to an
unpriced model through the real ``openai`` and ``google-genai`` clients instrumented by the SDK,
and waits until Prometheus has stored the final values. ``live.now`` is then a scrape timestamp
at least one scrape after the final values were stored: queries evaluated there are exact.

``history`` (module scope) is a second Prometheus with no scrapes whose data folder starts with
the blocks promtool made from ``History.openmetrics()``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml

import sdk_instrumentation as lens
from exporter.app import create_app
from exporter.demo import DEMO_KEYS, Step, build_workload, make_clients, run_workload
from exporter.settings import Settings
from sdk_instrumentation.api_keys import fingerprint
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.prometheus_server import PROMETHEUS, PrometheusServer
from tests.workload_expectations import recorded, total

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = sorted((ROOT / "prometheus" / "rules").glob("*.yml"))
PROMTOOL = "/usr/bin/promtool"
JOB = "genai-lens"
SCRAPE_INTERVAL_S = 1
HOLD = 2.5  # seconds a new series is served at 0: more than two scrape intervals
# One more call, to a model without a price, so genai_lens_unpriced_requests_total is served too.
UNPRICED = Step("chat", "genai-lens-unpriced-model", 0, input_tokens=321, output_tokens=123)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath) and (shutil.which(PROMETHEUS) is None or not Path(PROMTOOL).exists()):
            item.add_marker(pytest.mark.skip(reason="needs /usr/bin/prometheus and /usr/bin/promtool"))


def fast_rule_files(directory: Path) -> list[Path]:
    """Copies of the project's rule files with every group evaluated each second instead of each minute.

    That is the only change: with ``interval: 1m`` a group's first evaluation can come up to a
    minute after start (Prometheus spreads groups over their interval).
    """
    copies = []
    for path in RULE_FILES:
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            group["interval"] = f"{SCRAPE_INTERVAL_S}s"
        copy = directory / path.name
        copy.write_text(yaml.safe_dump(document, sort_keys=False))
        copies.append(copy)
    return copies


@dataclass
class Live:
    prom: PrometheusServer
    exporter_url: str
    steps: list
    records: list
    started: float        # wall clock (s) before Prometheus started
    now: float            # a scrape timestamp after the final values were stored
    metrics_text: str     # the exporter's /metrics, read after ``now``
    rule_files: list = field(default_factory=list)


def _value(result) -> float:
    return float(result[0]["value"][1]) if result else float("nan")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("live")
    rule_files = fast_rule_files(tmp)
    steps = build_workload(48) + [UNPRICED]
    records = recorded(steps)
    exporter = LocalServer(create_app(Settings.load(new_series_hold_seconds=HOLD, state_file=None)))
    provider = FakeProvider()
    aliases = {}
    for openai_key, gemini_key, alias in DEMO_KEYS:
        if alias:
            aliases[fingerprint(openai_key)] = alias
            aliases[fingerprint(gemini_key)] = alias
    config = (f"global: {{scrape_interval: {SCRAPE_INTERVAL_S}s, evaluation_interval: {SCRAPE_INTERVAL_S}s}}\n"
              f"scrape_configs:\n  - job_name: {JOB}\n"
              f"    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n")
    with exporter, LocalServer(provider.app) as provider_server:
        started = time.time()
        with PrometheusServer(config, rule_files=rule_files, timeout=30) as prom:
            prom.wait_for_targets_up(1)
            configured = lens.configure(endpoint=exporter.url, service_name="integration", api_key_aliases=aliases,
                                        export_interval_seconds=60, set_global=False)
            try:
                clients = make_clients(provider_server.url)
                half = len(steps) // 2
                run_workload(steps[:half], clients)
                configured.force_flush()   # two export batches: series of both are new, some grow in the second
                run_workload(steps[half:], clients)
                configured.force_flush()
            finally:
                configured.shutdown()
            # Prometheus has stored the final values (each wait bounded; counters only grow) ...
            want = {"genai_lens_cost_usd_total": total(records, "cost")[()],
                    "gen_ai_client_token_usage_sum": total(records, "tokens")[()],
                    "gen_ai_client_operation_duration_seconds_count": total(records, "calls")[()],
                    "genai_lens_web_search_calls_total": total(records, "web_search_calls")[()]}
            for metric, value in want.items():
                prom.wait_until(f"sum({metric})", lambda r, value=value: abs(_value(r) - value) < 1e-9, timeout=30)
            stored = _value(prom.query("max(timestamp(genai_lens_cost_usd_total))"))
            # ... and scraped once more: `now` is a scrape timestamp, so increase() there is exact.
            now = _value(prom.wait_until(f'timestamp(up{{job="{JOB}"}})',
                                         lambda r: _value(r) >= stored + SCRAPE_INTERVAL_S, timeout=30))
            text = httpx.get(exporter.url + "/metrics", timeout=10).text
            yield Live(prom, exporter.url, steps, records, started, now, text, rule_files)


# ------------------------------------------------------------------ history

class History:
    """35 days of synthetic counters, one sample every 6 hours, ending on a Month (30 d) and Week boundary.

    Since the epoch, 1723680000 (2024-08-15 00:00 UTC, a Thursday) is a multiple of both 30 d and
    1 w, so Grafana's step-aligned buckets fall on samples. Every increment is a multiple of 1/8,
    so sums are exact in floating point. Two series start at day 10, at 0.
    """

    END = 1723680000
    START = END - 35 * 86400
    EVERY = 6 * 3600
    BASE = {"gen_ai_operation_name": "chat", "genai_lens_billing": "payg", "service_name": "history"}
    GPT = {"gen_ai_provider_name": "openai", "gen_ai_request_model": "gpt-4o", "genai_lens_api_key": "team-search"}
    GEMINI = {"gen_ai_provider_name": "gcp.gemini", "gen_ai_request_model": "gemini-2.5-flash",
              "genai_lens_api_key": "team-support"}
    LATE = 40  # the Gemini series start at sample 40 (day 10)

    def __init__(self):
        self.times = list(range(self.START, self.END + 1, self.EVERY))
        # (metric, labels, increment at sample i (None before the series starts))
        self.series = [
            ("cost", {**self.GPT, "genai_lens_cost_type": "input"}, lambda i: (i % 7 + 1) * 0.25),
            ("cost", {**self.GPT, "genai_lens_cost_type": "output"}, lambda i: (i % 5 + 1) * 0.5),
            ("cost", {**self.GEMINI, "genai_lens_cost_type": "other"},
             lambda i: (i % 3 + 1) * 0.125 if i >= self.LATE else None),
            ("tokens", {**self.GPT, "gen_ai_token_type": "input"}, lambda i: 1000.0 * (i % 4 + 1)),
            ("tokens", {**self.GEMINI, "gen_ai_token_type": "output"},
             lambda i: 250.0 * (i % 6 + 1) if i >= self.LATE else None),
        ]

    def samples(self, increment):
        """``[(timestamp, cumulative value)]``; the first sample of a series is 0."""
        out, value = [], 0.0
        for i, t in enumerate(self.times):
            step = increment(i)
            if step is None:
                continue
            value = value + step if out else 0.0
            out.append((t, value))
        return out

    def bucket(self, metric: str, label: str, start: int, end: int) -> dict[str, float]:
        """Growth of ``metric`` per ``label`` value in the bucket (start, end]: the sum of the increments in it."""
        sums: dict[str, float] = {}
        for name, labels, increment in self.series:
            if name != metric:
                continue
            points = self.samples(increment)
            inside = [v for t, v in points if start <= t <= end]
            if len(inside) >= 2:
                growth = sum(b - a for a, b in zip(inside, inside[1:]))
                sums[labels[label]] = sums.get(labels[label], 0.0) + growth
        return sums

    def openmetrics(self) -> str:
        def fmt(labels: dict, **extra) -> str:
            return ",".join(f'{k}="{v}"' for k, v in sorted({**self.BASE, **labels, **extra}.items()))

        lines = ["# TYPE genai_lens_cost_usd counter"]
        for name, labels, increment in self.series:
            if name == "cost":
                lines += [f"genai_lens_cost_usd_total{{{fmt(labels)}}} {v!r} {t}" for t, v in self.samples(increment)]
        lines.append("# TYPE gen_ai_client_token_usage histogram")
        for name, labels, increment in self.series:
            if name == "tokens":
                for n, (t, v) in enumerate(self.samples(increment)):
                    lines += [f'gen_ai_client_token_usage_bucket{{{fmt(labels, le="+Inf")}}} {n} {t}',
                              f"gen_ai_client_token_usage_count{{{fmt(labels)}}} {n} {t}",
                              f"gen_ai_client_token_usage_sum{{{fmt(labels)}}} {v!r} {t}"]
        lines.append("# EOF")
        return "\n".join(lines) + "\n"


def _launcher(blocks: Path, directory: Path) -> Path:
    """An executable for ``PrometheusServer(binary=...)``: copies ``blocks`` into the fresh data folder
    Prometheus is given, then runs /usr/bin/prometheus with a 10-year retention (so the 2024 history stays)."""
    script = directory / "prometheus-with-history"
    script.write_text("#!/bin/sh\n"
                      'for arg; do case "$arg" in --storage.tsdb.path=*) '
                      f'cp -R "{blocks}" "${{arg#*=}}";; esac; done\n'
                      f'exec {PROMETHEUS} "$@" --storage.tsdb.retention.time=3650d\n')
    script.chmod(0o755)
    return script


@dataclass
class Loaded:
    prom: PrometheusServer
    history: History


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    data = History()
    source = tmp / "history.om"
    source.write_text(data.openmetrics())
    blocks = tmp / "blocks"
    result = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(blocks)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    with PrometheusServer("global: {scrape_interval: 1s, evaluation_interval: 1s}\n",
                          binary=str(_launcher(blocks, tmp)), timeout=30) as prom:
        yield Loaded(prom, data)
