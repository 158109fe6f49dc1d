"""The whole genai-lens pipeline on 127.0.0.1, scraped by a real Prometheus, for the integration tests
and for ``scripts/render_dashboards.py``::

    with live_pipeline(tmp_dir) as live:
        live.prom.query("sum(genai_lens_cost_usd_total)", time=live.now)

It starts the exporter (new series held at 0 for ``HOLD`` s, more than two scrape intervals) and the
fake provider, then Debian's Prometheus (scrape and rule evaluation every 1 s, the project's rule
files), drives the demo workload plus one call to an unpriced model and one with a reported cost through the real ``openai`` and
``google-genai`` clients instrumented by the SDK, and waits until Prometheus has stored the final
values. ``live.now`` is then a scrape timestamp at least one scrape after the final values were
stored: queries evaluated there are exact. Prometheus stores exemplars (``--enable-feature=exemplar-storage``)
and ``live.spans`` holds the spans the SDK made, so exemplars can be matched to them.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import sdk_instrumentation as lens
from exporter.app import create_app
from exporter.demo import Step, build_workload, demo_aliases, make_clients, run_workload
from exporter.settings import Settings
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
# Budgets, so the budget series and their recording rules have data: all spend, and one key's.
BUDGETS = [{"name": "all-spend-monthly", "match": {}, "period": "month", "amount_usd": 1000},
           {"name": "team-search-daily", "match": {"genai_lens_api_key": "team-search"}, "period": "day",
            "amount_usd": 20, "warn_at": [0.5, 0.8]}]
# And one whose response reports its own cost (as a gateway's usage.cost), so the cost by source (B3)
# has a provider-priced part: $0.0375 where the price list says $0.0045.
PROVIDER_PRICED = Step("chat", "gpt-4o", 1, input_tokens=1000, output_tokens=200, reported_cost=0.0375)


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
    spans: list = field(default_factory=list)  # the SDK's finished spans, one per call


def _value(result) -> float:
    return float(result[0]["value"][1]) if result else float("nan")


@contextlib.contextmanager
def live_pipeline(tmp: Path):
    """The running pipeline as a ``Live``; everything stops when the block ends."""
    rule_files = fast_rule_files(tmp)
    steps = build_workload(48) + [UNPRICED, PROVIDER_PRICED]
    records = recorded(steps)
    exporter = LocalServer(create_app(Settings.load(new_series_hold_seconds=HOLD, state_file=None, budgets=BUDGETS)))
    provider = FakeProvider()
    aliases = demo_aliases()
    config = (f"global: {{scrape_interval: {SCRAPE_INTERVAL_S}s, evaluation_interval: {SCRAPE_INTERVAL_S}s}}\n"
              f"scrape_configs:\n  - job_name: {JOB}\n"
              f"    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n")
    with exporter, LocalServer(provider.app) as provider_server:
        started = time.time()
        with PrometheusServer(config, rule_files=rule_files, timeout=30,
                              extra_args=["--enable-feature=exemplar-storage"]) as prom:
            prom.wait_for_targets_up(1)
            configured = lens.configure(endpoint=exporter.url, service_name="integration", api_key_aliases=aliases,
                                        export_interval_seconds=60, set_global=False)
            spans = InMemorySpanExporter()
            configured.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
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
            yield Live(prom, exporter.url, steps, records, started, now, text, rule_files, list(spans.get_finished_spans()))
