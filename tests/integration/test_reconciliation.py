"""B4 end to end: what genai-lens measured next to what OpenAI billed, over HTTP, into a real Prometheus.

The real openai client, instrumented by the SDK (``configure()``), calls the fake provider with two
keys in two projects; the exporter ingests the SDK's metrics and polls the fake provider's
organization Usage and Costs APIs, which answer from the calls the fake served. The exporter's and its
poller's clocks run one day ahead, so today's calls make a complete UTC day ("yesterday") on both sides.
Tokens and requests agree exactly, cost to rounding; a billing factor of 1.1 shows as drift, in the
exporter's series and in the recording rules a real Prometheus evaluates.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

import sdk_instrumentation as lens
from exporter.app import create_app
from exporter.settings import Settings
from sdk_instrumentation.api_keys import fingerprint
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from tests.integration.pipeline import fast_rule_files
from tests.prometheus_server import PrometheusServer

ADMIN_KEY = "sk-admin-reconciliation-0123456789"
KEY_A = "sk-proj-team-a-0123456789abcdef0123"
KEY_B = "sk-proj-team-b-fedcba9876543210fedc"
AHEAD = 86400.0


def tomorrow() -> float:
    return time.time() + AHEAD


def workload(url: str) -> None:
    """Chat (plain and streamed, cached input), embeddings and a failed call (not billed) per key."""
    for key, model in ((KEY_A, "gpt-4o-mini"), (KEY_B, "gpt-4o")):
        client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
        headers = {"x-fake-input-tokens": "1200", "x-fake-cached-tokens": "1024", "x-fake-output-tokens": "80"}
        for _ in range(3):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                           extra_headers=headers)
        list(client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True,
                                            extra_headers={**headers, "x-fake-chunks": "4"}))
        client.embeddings.create(model="text-embedding-3-small", input="hello world",
                                 extra_headers={"x-fake-input-tokens": "7"})
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}],
                                           extra_headers={"x-fake-fault": "429"})
        client.close()


def billed(text: str) -> dict:
    """{(metric, source, window, period, model, key, token type): value} of the genai_lens_billed_* gauges."""
    out = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("genai_lens_billed_"):
            for s in family.samples:
                labels = s.labels
                out[(s.name, labels["source"], labels["window"], labels["period"], labels["gen_ai_request_model"],
                     labels["genai_lens_api_key"], labels.get("gen_ai_token_type", ""))] = s.value
    return out


@pytest.fixture
def reconciled(monkeypatch, tmp_path):
    monkeypatch.setenv("GENAI_LENS_TEST_ADMIN_KEY", ADMIN_KEY)
    # The provider books each call at the real time; the exporter and its poller live a day ahead.
    provider = FakeProvider(api_keys={KEY_A: ("proj_a", "key_a"), KEY_B: ("proj_b", "key_b")}, admin_key=ADMIN_KEY)
    with LocalServer(provider.app) as provider_server:
        settings = Settings(new_series_hold_seconds=0, billing={"openai": {
            "base_url": provider_server.url + "/v1", "admin_key_env": "GENAI_LENS_TEST_ADMIN_KEY", "days": 7,
            "interval_seconds": 3600, "projects": {"proj_a": "team-a", "proj_b": "team-b"}}})
        app = create_app(settings)
        app.state.store.clock = tomorrow
        app.state.billing.clock = tomorrow
        with LocalServer(app) as exporter:
            lens.uninstrument()
            configured = lens.configure(endpoint=exporter.url, service_name="reconciliation", set_global=False,
                                        export_interval_seconds=3600,
                                        api_key_aliases={fingerprint(KEY_A): "team-a", fingerprint(KEY_B): "team-b"})
            try:
                workload(provider_server.url)
                configured.force_flush()
            finally:
                configured.shutdown()
            app.state.billing.poll_now()
            yield provider, app, exporter


def test_a_correct_pipeline_reconciles_to_zero(reconciled):
    provider, app, exporter = reconciled
    figures = billed(httpx.get(exporter.url + "/metrics", timeout=10).text)
    today = datetime.fromtimestamp(time.time(), tz=UTC)
    day, month = today.strftime("%Y-%m-%d"), today.strftime("%Y-%m")
    measured = {k[:1] + k[2:]: v for k, v in figures.items() if k[1] == "measured"}
    billed_ = {k[:1] + k[2:]: v for k, v in figures.items() if k[1] == "provider"}
    # Both sides have the same rows: day and month, per model family and key alias.
    rows = {(k[2], k[3], k[4]) for k in measured if k[0] == "genai_lens_billed_requests"}
    assert {r for r in rows if r[0] == day} == {(day, "gpt-4o-mini", "team-a"), (day, "gpt-4o", "team-b"),
                                                (day, "text-embedding-3-small", "team-a"),
                                                (day, "text-embedding-3-small", "team-b")}
    if today.day != 1:  # the month to date holds the complete days of the exporter's month
        assert {r for r in rows if r[0] == month} == {(month, m, k) for _, m, k in rows if _ == day}
    assert set(measured) == set(billed_)
    for key, value in measured.items():
        if key[0] == "genai_lens_billed_cost_usd":
            assert value == pytest.approx(billed_[key], rel=1e-12, abs=1e-15), key
        else:
            assert value == billed_[key], key  # tokens and requests: exactly
    # The exact figures of one row: 4 successful chats of 1200 input (1024 cached) and 80 output tokens.
    tokens = {k[-1]: v for k, v in measured.items() if k[:5] == ("genai_lens_billed_tokens", "day", day, "gpt-4o-mini", "team-a")}
    assert tokens == {"input": 4800, "cached_input": 4096, "output": 320}
    assert measured[("genai_lens_billed_requests", "day", day, "gpt-4o-mini", "team-a", "")] == 4
    # The poller is healthy.
    text = httpx.get(exporter.url + "/metrics", timeout=10).text
    assert 'genai_lens_exporter_billing_up{provider="openai"} 1.0' in text


def test_a_billing_difference_shows_as_drift_in_prometheus(reconciled, tmp_path):
    provider, app, exporter = reconciled
    provider.organization.cost_factors["gpt-4o"] = 1.1  # OpenAI bills gpt-4o 10% above genai-lens's prices
    app.state.billing.poll_now()
    day = datetime.fromtimestamp(time.time(), tz=UTC).strftime("%Y-%m-%d")
    figures = billed(httpx.get(exporter.url + "/metrics", timeout=10).text)
    measured, provided = (figures[("genai_lens_billed_cost_usd", source, "day", day, "gpt-4o", "team-b", "")]
                          for source in ("measured", "provider"))
    assert provided == pytest.approx(1.1 * measured, rel=1e-12)
    config = ("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
              "scrape_configs:\n  - job_name: genai-lens\n"
              f"    static_configs: [{{targets: ['{exporter.url.split('//')[1]}']}}]\n")
    with PrometheusServer(config, rule_files=fast_rule_files(tmp_path), timeout=30) as prom:
        prom.wait_for_targets_up(1)
        ratio = prom.wait_until(
            f'window_provider_model_key:genai_lens_billed_cost_usd:drift_ratio{{window="day", period="{day}"}}',
            lambda r: len(r) == 4, timeout=30)
        by_model = {r["metric"]["gen_ai_request_model"]: float(r["value"][1]) for r in ratio}
        assert by_model["gpt-4o"] == pytest.approx(1 / 1.1 - 1, rel=1e-9)  # (measured - billed) / billed
        assert by_model["gpt-4o-mini"] == pytest.approx(0.0, abs=1e-12)
        assert by_model["text-embedding-3-small"] == pytest.approx(0.0, abs=1e-12)
