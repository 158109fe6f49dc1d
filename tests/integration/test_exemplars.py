"""B5 exemplars end to end: SDK -> OTLP -> exporter -> OpenMetrics -> a real Prometheus with exemplar storage.

The live pipeline (pipeline.py) runs the demo workload through the real openai and google-genai
clients instrumented by the SDK; Prometheus runs with ``--enable-feature=exemplar-storage``.
``/api/v1/query_exemplars`` must return exemplars whose trace and span ids are spans the workload
made, on the series of that span's own model, key and provider, with the span's own value.
"""

from __future__ import annotations

import math

import pytest

from sdk_instrumentation import attributes as a

LABELS = {"gen_ai_request_model": a.REQUEST_MODEL, "genai_lens_api_key": a.API_KEY,
          "gen_ai_provider_name": a.PROVIDER_NAME, "gen_ai_operation_name": a.OPERATION_NAME}


@pytest.fixture(scope="module")
def spans(live):
    """{(trace id hex, span id hex): span} of every call the workload made."""
    found = {(format(s.context.trace_id, "032x"), format(s.context.span_id, "016x")): s for s in live.spans}
    assert len(found) == len(live.steps)  # one span per call
    return found


def exemplars(live, expr: str) -> list[tuple[dict, dict]]:
    """[(series labels, exemplar)] stored by Prometheus for ``expr`` during the workload."""
    result = live.prom.query_exemplars(expr, live.started, live.now + 1)
    return [(series["seriesLabels"], exemplar) for series in result for exemplar in series["exemplars"]]


def span_of(spans, labels: dict, exemplar: dict):
    """The span an exemplar names, checked to be on the series of the span's own labels."""
    ids = (exemplar["labels"]["trace_id"], exemplar["labels"]["span_id"])
    assert ids in spans, f"exemplar {ids} names no span of the workload"
    span = spans[ids]
    for label, attribute in LABELS.items():
        assert labels[label] == span.attributes[attribute], (label, labels, dict(span.attributes))
    assert set(exemplar["labels"]) == {"trace_id", "span_id"}
    return span


def test_duration_exemplars_name_the_calls_in_their_bucket(live, spans):
    found = exemplars(live, "gen_ai_client_operation_duration_seconds_bucket")
    assert found
    for labels, exemplar in found:
        span = span_of(spans, labels, exemplar)
        value, le = float(exemplar["value"]), float(labels["le"])
        assert value <= le  # in its bucket ...
        # ... and the call's own duration: timed from just before the span starts to the response's last
        # byte, which a stream reaches before its span ends
        assert 0 < value <= (span.end_time - span.start_time) / 1e9 + 1e-3
        assert ("error_type" in labels) == (a.ERROR_TYPE in span.attributes)
    # Every duration series with calls has at least one exemplar.
    series = {frozenset((k, v) for k, v in s["metric"].items() if k not in ("le", "__name__"))
              for s in live.prom.query("gen_ai_client_operation_duration_seconds_count > 0", time=live.now)}
    with_exemplars = {frozenset((k, v) for k, v in labels.items() if k not in ("le", "__name__")) for labels, _ in found}
    assert series and series == with_exemplars


def test_token_and_time_to_first_chunk_exemplars_carry_the_span_values(live, spans):
    tokens = exemplars(live, "gen_ai_client_token_usage_bucket")
    assert {labels["gen_ai_token_type"] for labels, _ in tokens} == {"input", "output"}
    for labels, exemplar in tokens:
        span = span_of(spans, labels, exemplar)
        attribute = a.USAGE_INPUT_TOKENS if labels["gen_ai_token_type"] == "input" else a.USAGE_OUTPUT_TOKENS
        assert float(exemplar["value"]) == span.attributes[attribute]
    first_chunk = exemplars(live, "gen_ai_client_operation_time_to_first_chunk_seconds_bucket")
    assert first_chunk
    for labels, exemplar in first_chunk:
        span = span_of(spans, labels, exemplar)
        assert span.attributes[a.REQUEST_STREAM] is True
        assert float(exemplar["value"]) == pytest.approx(span.attributes[a.RESPONSE_TIME_TO_FIRST_CHUNK], rel=1e-12)


def test_cost_exemplars_carry_one_call_increment(live, spans):
    found = exemplars(live, "genai_lens_cost_usd_total")
    assert {labels["genai_lens_cost_type"] for labels, _ in found} >= {"input", "output"}
    for labels, exemplar in found:
        span = span_of(spans, labels, exemplar)
        value = float(exemplar["value"])
        assert 0 < value <= span.attributes[a.COST_USD] * (1 + 1e-12)  # a part of that one call's cost
        assert labels["genai_lens_cost_source"] == span.attributes[a.COST_SOURCE]


def test_every_exemplar_panel_query_gets_the_workload_exemplars(live, spans):
    """Each query a panel asks exemplars for, as Grafana asks it (variables substituted, All filters,
    each granularity), gets exemplars from Prometheus, and every one names a span of the workload on
    that span's own series."""
    from tests.integration.test_dashboards_prometheus import ALL_FILTERS, GRANULARITIES, Grafana, all_queries

    grafana = Grafana(live.prom, live.now, math.ceil(live.now - live.started) + 5)
    asked = [q for q in all_queries() if q.exemplar]
    assert {(q.dashboard_uid, q.panel_title) for q in asked} == {
        ("genai-lens-cost", "Total cost by model"), ("genai-lens-model", "Model latency"),
        ("genai-lens-model", "Model time to first token"), ("genai-lens-usage", "Latency by model"),
        ("genai-lens-usage", "First token latency by model")}
    for query in asked:
        granularities = GRANULARITIES.values() if "granularity" in query.expr + query.interval else ["1d"]
        for granularity in granularities:
            expr = grafana.expr(query, {**ALL_FILTERS, "granularity": granularity})
            found = [(series["seriesLabels"], exemplar)
                     for series in live.prom.query_exemplars(expr, live.started, live.now + 1)
                     for exemplar in series["exemplars"]]
            assert found, (query.panel_title, query.ref_id, expr)
            for labels, exemplar in found:
                span_of(spans, labels, exemplar)
