"""End to end: the real SDK driving the real clients against the fake provider, exporting OTLP
to the real exporter, whose /metrics must show exactly the workload's tokens, requests, errors and cost."""

from __future__ import annotations

import httpx
import pytest

import sdk_instrumentation as lens
from exporter.app import create_app
from exporter.demo import DEMO_KEYS, build_workload, demo_aliases, make_clients, read_summary, run_workload
from exporter.settings import Settings
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.workload_expectations import expected, key_label


@pytest.fixture
def pipeline():
    exporter = LocalServer(create_app(Settings.load(new_series_hold_seconds=0, state_file=None)))
    provider = FakeProvider()
    aliases = demo_aliases()
    with exporter, LocalServer(provider.app) as provider_server:
        configured = lens.configure(endpoint=exporter.url, service_name="e2e", api_key_aliases=aliases,
                                    export_interval_seconds=60, set_global=False)
        try:
            yield exporter, make_clients(provider_server.url), configured
        finally:
            configured.shutdown()


def test_exporter_serves_exactly_the_workload(pipeline):
    exporter, clients, configured = pipeline
    steps = build_workload(48)
    assert {s.fault for s in steps} == {None, "429", "500"}
    assert any(s.web_search and s.api == "generate" for s in steps) and any(s.web_search and s.api == "responses" for s in steps)
    assert any(s.stream for s in steps) and len({key_label(s) for s in steps}) >= 3

    ok, failed = run_workload(steps[:24], clients)
    configured.force_flush()       # two export batches: the exporter must add the deltas
    ok2, failed2 = run_workload(steps[24:], clients)
    configured.force_flush()
    assert failed + failed2 == sum(1 for s in steps if s.fault)

    text = httpx.get(exporter.url + "/metrics", timeout=10).text
    summary = read_summary(text)
    want_model, want_key = expected(steps)
    for got, want in ((summary["by_model"], want_model), (summary["by_key"], want_key)):
        assert set(got) == set(want)
        for name, row in want.items():
            for field in ("requests", "errors", "input_tokens", "output_tokens"):
                assert got[name][field] == row[field], (name, field)
            assert got[name]["cost"] == pytest.approx(row["cost"], abs=1e-9), name
    assert 'service_name="e2e"' in text
    for openai_key, gemini_key, _ in DEMO_KEYS:
        assert openai_key not in text and gemini_key not in text
