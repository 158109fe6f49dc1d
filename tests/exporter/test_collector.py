"""/metrics rendering: exact text, promtool, OpenMetrics negotiation, held series."""

import subprocess
import time

import pytest
from tests.exporter.otlp import CUMULATIVE, gauge_metric, histogram_metric, histogram_point, labels, number_point, request, sum_metric, values
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

OPENMETRICS = {"Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}
POINT = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "genai_lens.api_key": "sk-…a1b2"}
BASE = labels(gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o", genai_lens_api_key="sk-…a1b2", service_name="svc")


def workload():
    return request(
        sum_metric("genai_lens.cost", "usd", [number_point(0.000123456789, {**POINT, "genai_lens.cost.type": "input"})], description="Cost of GenAI calls in US dollars."),
        sum_metric("genai_lens.web_search.calls", "{call}", [number_point(2, POINT, as_int=True)], temporality=CUMULATIVE),
        histogram_metric("gen_ai.client.operation.duration", "s", [histogram_point([0.5, 1.0], [1, 1, 1], 3.0, POINT)], description="GenAI operation duration."),
        histogram_metric("gen_ai.client.token.usage", "{token}", [histogram_point([16, 64], [0, 2, 0], 60, {**POINT, "gen_ai.token.type": "output"})]),
        histogram_metric("genai_lens.throughput", "tokens/s", [histogram_point([10, 100], [0, 0, 1], 150, POINT)]),
        gauge_metric("queue.fill", "1", [number_point(0.5)]),
        sum_metric("label.escapes", "", [number_point(1.0, {"path": 'a"b\\c\nd'})]),
    )


def test_text_exposition_exact(exporter):
    server = exporter()
    assert server.post(workload()).status_code == 200
    response = server.client.get(server.url + "/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = response.text
    base = BASE
    assert values(text, "genai_lens_cost_usd_total") == {base | {("genai_lens_cost_type", "input")}: 0.000123456789}
    assert values(text, "genai_lens_web_search_calls_total") == {base: 2}
    assert values(text, "gen_ai_client_operation_duration_seconds_bucket") == {
        base | {("le", "0.5")}: 1, base | {("le", "1.0")}: 2, base | {("le", "+Inf")}: 3,
    }
    assert values(text, "gen_ai_client_operation_duration_seconds_count") == {base: 3}
    assert values(text, "gen_ai_client_token_usage_sum") == {base | {("gen_ai_token_type", "output")}: 60}
    assert values(text, "genai_lens_throughput_tokens_per_second_count") == {base: 1}
    assert values(text, "queue_fill_ratio") == {labels(service_name="svc"): 0.5}
    assert values(text, "label_escapes_total") == {labels(path='a"b\\c\nd', service_name="svc"): 1}
    assert "# HELP genai_lens_cost_usd_total Cost of GenAI calls in US dollars.\n# TYPE genai_lens_cost_usd_total counter\n" in text
    assert "# TYPE gen_ai_client_operation_duration_seconds histogram\n" in text
    assert "_created" not in text
    assert values(text, "genai_lens_exporter_series") == {
        labels(metric=name): 1 for name in (
            "genai_lens_cost_usd", "genai_lens_web_search_calls", "gen_ai_client_operation_duration_seconds",
            "gen_ai_client_token_usage", "genai_lens_throughput_tokens_per_second", "queue_fill_ratio", "label_escapes",
        )
    }


def test_promtool_check_metrics(exporter, tmp_path):
    server = exporter(series_limit=1)
    server.post(workload())
    server.post(request(sum_metric("genai_lens.cost", "usd", [number_point(1.0, {"genai_lens.api_key": "other"})])))  # overflow
    text = server.metrics()
    assert values(text, "genai_lens_cost_usd_total")[labels(otel_metric_overflow="true")] == 1.0
    assert values(text, "genai_lens_exporter_series_overflow_total")[labels(metric="genai_lens_cost_usd")] == 1
    result = subprocess.run(["/usr/bin/promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_openmetrics_when_asked(exporter):
    server = exporter(created_timestamps=True)
    before = time.time()
    server.post(workload())
    response = server.client.get(server.url + "/metrics", headers=OPENMETRICS)
    assert response.headers["content-type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    families = {f.name: f for f in parse_openmetrics(response.text)}  # strict parser: raises on any error
    cost = families["genai_lens_cost_usd"]
    assert (cost.type, cost.unit) == ("counter", "usd")
    by_name = {s.name: s for s in cost.samples}
    assert by_name["genai_lens_cost_usd_total"].value == 0.000123456789
    assert before - 1 <= by_name["genai_lens_cost_usd_created"].value <= time.time()
    assert (families["gen_ai_client_operation_duration_seconds"].type, families["gen_ai_client_operation_duration_seconds"].unit) == ("histogram", "seconds")
    assert response.text.endswith("# EOF\n")
    plain = server.client.get(server.url + "/metrics", headers=OPENMETRICS)
    assert "genai_lens_exporter_requests_created" in plain.text  # prometheus_client's own metrics keep theirs in OpenMetrics


def test_openmetrics_without_created_timestamps_by_default(exporter):
    server = exporter()
    server.post(workload())
    response = server.client.get(server.url + "/metrics", headers=OPENMETRICS)
    assert response.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    families = {f.name: f for f in parse_openmetrics(response.text)}
    assert [s.name for s in families["genai_lens_cost_usd"].samples] == ["genai_lens_cost_usd_total"]
    assert "_created" not in response.text


def test_held_series_render_zero_then_the_value(exporter):
    server = exporter(new_series_hold_seconds=0.5)
    server.post(workload())
    first = server.metrics()
    base = BASE
    assert values(first, "genai_lens_web_search_calls_total") == {base: 0}
    assert values(first, "gen_ai_client_operation_duration_seconds_bucket") == {
        base | {("le", "0.5")}: 0, base | {("le", "1.0")}: 0, base | {("le", "+Inf")}: 0,
    }
    assert values(first, "gen_ai_client_operation_duration_seconds_sum") == {base: 0}
    assert values(first, "queue_fill_ratio") == {labels(service_name="svc"): 0.5}  # gauges are never held
    server.post(request(sum_metric("genai_lens.web_search.calls", "{call}", [number_point(3, POINT, as_int=True, time=10**19)], temporality=CUMULATIVE)))
    time.sleep(0.6)
    later = server.metrics()
    assert values(later, "genai_lens_web_search_calls_total") == {base: 3}
    assert values(later, "gen_ai_client_operation_duration_seconds_count") == {base: 3}


def test_a_scrape_answered_too_late_does_not_count_as_seeing_zero(exporter):
    """Prometheus drops an answer that comes after its scrape timeout: a held series only counts as
    seen at zero when the answer was ready within half the timeout the scraper sent."""
    server = exporter(new_series_hold_seconds=0.01)
    server.post(workload())
    late = {"X-Prometheus-Scrape-Timeout-Seconds": "0.000001"}
    for _ in range(3):
        time.sleep(0.02)
        assert values(server.metrics(late), "genai_lens_web_search_calls_total") == {BASE: 0}
    assert values(server.metrics({"X-Prometheus-Scrape-Timeout-Seconds": "10"}), "genai_lens_web_search_calls_total") == {BASE: 0}
    assert values(server.metrics(late), "genai_lens_web_search_calls_total") == {BASE: 2}
