"""B6: calls traced by other OpenTelemetry GenAI instrumentations appear, priced, on every dashboard.

No genai-lens SDK here: the real ``openai`` and ``google-genai`` clients are traced by the official
OpenTelemetry OpenAI and Google Gen AI instrumentations, which export OTLP spans to the exporter's
``POST /v1/traces``; Debian's Prometheus scrapes the exporter every second with the project's rules.
Every query of every dashboard (but Budgets, which needs configured budgets) is asked like Grafana
asks it: each answers with data, except the few listed with their reason, and the cards show the
exact totals the calls' token counts and published prices imply.
"""

from __future__ import annotations

import math
import time

import pytest

from exporter.app import create_app
from exporter.settings import Settings
from sdk_instrumentation.fake_provider import FakeProvider
from sdk_instrumentation.local_server import LocalServer
from sdk_instrumentation.pricing import Pricing
from sdk_instrumentation.usage import Usage
from tests import grafana_view
from tests.integration.pipeline import JOB, SCRAPE_INTERVAL_S, fast_rule_files
from tests.integration.test_dashboards_prometheus import ALL_FILTERS, DASHBOARDS, GRANULARITIES, Grafana, vector
from tests.prometheus_server import PrometheusServer
from grafana.dashboards_src.queries import iter_queries

pytest.importorskip("opentelemetry.instrumentation.genai.openai")
pytest.importorskip("opentelemetry.instrumentation.google_genai")

# (model, provider, input tokens, output tokens); the stream and the failed call come on top.
CALLS = [("gpt-4o", "openai", 1000, 200), ("gemini-2.5-flash", "gcp.gemini", 400, 40)]
STREAM = ("gpt-4o-mini", "openai", 300, 30)

# Queries that legitimately return nothing for these calls, with the reason.
EMPTY_OK = {
    ("genai-lens-overview", "Spend rate vs yesterday and last week", "B"): "offset 1d: before this Prometheus started",
    ("genai-lens-overview", "Spend rate vs yesterday and last week", "C"): "offset 1w: before this Prometheus started",
    ("genai-lens-usage", "Web search usage", "A"): "no instrumentation records web search calls on its spans",
    ("genai-lens-usage", "Web search usage", "B"): "no instrumentation records web search calls on its spans",
    ("genai-lens-usage", "Web search usage", "C"): "no instrumentation records web search calls on its spans",
}


def _value(result) -> float:
    return float(result[0]["value"][1]) if result else float("nan")


def test_traced_calls_appear_priced_on_every_dashboard(tmp_path):
    import openai
    from google import genai
    from google.genai import errors, types
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    pricing = Pricing()
    costs = [pricing.price(provider, model, Usage(input_tokens=i, output_tokens=o)).total
             for model, provider, i, o in CALLS + [STREAM]]
    exporter = LocalServer(create_app(Settings.load(new_series_hold_seconds=2.5, state_file=None)))
    config = (f"global: {{scrape_interval: {SCRAPE_INTERVAL_S}s, evaluation_interval: {SCRAPE_INTERVAL_S}s}}\n"
              f"scrape_configs:\n  - job_name: {JOB}\n    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n")
    openai_instrumentor, google_instrumentor = OpenAIInstrumentor(), GoogleGenAiSdkInstrumentor()
    with exporter, LocalServer(FakeProvider().app) as fake:
        started = time.time()
        with PrometheusServer(config, rule_files=fast_rule_files(tmp_path), timeout=30) as prom:
            prom.wait_for_targets_up(1)
            provider = TracerProvider(resource=Resource.create({"service.name": "traced-elsewhere"}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=exporter.url + "/v1/traces")))
            openai_instrumentor.instrument(tracer_provider=provider)
            google_instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
            try:
                client = openai.OpenAI(base_url=fake.url + "/v1", api_key="sk-elsewhere-000000000000", max_retries=0)
                gemini = genai.Client(api_key="AIzaElsewhere00000000000000000",
                                      http_options=types.HttpOptions(base_url=fake.url))
                hi = [{"role": "user", "content": "hi"}]
                model, _, i, o = CALLS[0]
                client.chat.completions.create(model=model, messages=hi, extra_headers={
                    "x-fake-input-tokens": str(i), "x-fake-output-tokens": str(o)})
                model, _, i, o = CALLS[1]
                gemini.models.generate_content(model=model, contents="hi", config=types.GenerateContentConfig(
                    http_options=types.HttpOptions(headers={"x-fake-input-tokens": str(i), "x-fake-output-tokens": str(o)})))
                model, _, i, o = STREAM
                for _ in client.chat.completions.create(
                        model=model, messages=hi, stream=True, stream_options={"include_usage": True},
                        extra_headers={"x-fake-input-tokens": str(i), "x-fake-output-tokens": str(o),
                                       "x-fake-chunks": "3", "x-fake-ttft": "0.2"}):
                    pass
                with pytest.raises(openai.RateLimitError):
                    client.chat.completions.create(model="gpt-4o", messages=hi, extra_headers={"x-fake-fault": "429"})
                with pytest.raises(errors.ServerError):
                    gemini.models.generate_content(model="gemini-2.5-flash", contents="hi", config=types.GenerateContentConfig(
                        http_options=types.HttpOptions(headers={"x-fake-fault": "500"})))
                assert provider.force_flush(10_000)
            finally:
                openai_instrumentor.uninstrument()
                google_instrumentor.uninstrument()
                provider.shutdown()
            total = sum(costs)
            prom.wait_until("sum(genai_lens_cost_usd_total)", lambda r: abs(_value(r) - total) < 1e-12, timeout=30)
            stored = _value(prom.query("max(timestamp(genai_lens_cost_usd_total))"))
            now = _value(prom.wait_until(f'timestamp(up{{job="{JOB}"}})',
                                         lambda r: _value(r) >= stored + SCRAPE_INTERVAL_S, timeout=30))

            grafana = Grafana(prom, now, math.ceil(now - started) + 5)
            empty, checked = set(), 0
            queries = {}
            for uid, dashboard in DASHBOARDS.items():
                if uid in ("genai-lens-budgets", "genai-lens-billing"):
                    continue
                for query in iter_queries(dashboard):
                    queries[(query.dashboard_uid, query.panel_title, query.ref_id)] = query
                    granularities = GRANULARITIES.values() if "granularity" in query.expr + query.interval else ["1d"]
                    for granularity in granularities:
                        result = grafana.run(query, {**ALL_FILTERS, "granularity": granularity})
                        checked += 1
                        points = [r["value"][1] for r in result] if query.instant else [
                            v for r in result for _, v in r["values"]]
                        if not any(math.isfinite(float(v)) for v in points):
                            empty.add((query.dashboard_uid, query.panel_title, query.ref_id))
            assert empty == set(EMPTY_OK)
            assert checked == len(queries) + 3 * sum(1 for q in queries.values() if q.interval == "$granularity")
            assert len(queries) > 80

            def card(uid, title, ref="A"):
                return vector(grafana.run(queries[(uid, title, ref)], {**ALL_FILTERS, "granularity": "1d"}))

            # priced by the exporter: the calls' cost to 1e-12 USD, on every dashboard's total
            for uid, title in (("genai-lens-cost", "Total cost"), ("genai-lens-overview", "Total cost"),
                               ("genai-lens-model", "Model cost")):
                assert card(uid, title) == {(): pytest.approx(total, abs=1e-12)}, (uid, title)
            assert card("genai-lens-usage", "Total API requests") == {(): 5.0}
            assert card("genai-lens-usage", "Average success rate") == {(): pytest.approx(3 / 5)}
            assert card("genai-lens-usage", "Provider count") == {(): 2.0}
            assert card("genai-lens-usage", "Total token usage") == {(): 1000 + 200 + 400 + 40 + 300 + 30}
            by_provider = card("genai-lens-cost", "Cost by provider share")
            assert by_provider == pytest.approx({
                (("gen_ai_provider_name", "openai"),): costs[0] + costs[2],
                (("gen_ai_provider_name", "gcp.gemini"),): costs[1]}, abs=1e-12)
            # no key was named: the API key table has one row, without a key, never an invented one
            assert set(card("genai-lens-cost", "Cost by API key")) == {()}
            # and what Grafana's own front-end code draws from them
            if grafana_view.available("13.2"):
                shown = grafana_view.evaluate("13.2", DASHBOARDS["genai-lens-cost"], prom.url, now=now,
                                              time={"from": "now-5m", "to": "now"}, scrape_interval="1s",
                                              variables={**ALL_FILTERS, "granularity": "1d"})
                assert shown.panel("Total cost")["shown"]["strings"] == [f"${total:.2f}"]
                slices = {s["title"] for s in shown.panel("Cost by provider share")["shown"]["slices"]}
                assert slices == {"openai", "gcp.gemini"}
