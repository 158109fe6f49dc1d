"""SpanConverter (exporter/span_metrics.py): the points real OTLP spans become, their exemplars and their prices.

Every point carries exemplars of the spans that made it: a histogram point the last span of each
bucket (``le``), a sum point the last span that added to it, with that span's increment. The costs
are the SDK's pricing engine's own figures, to the last bit.
"""

from __future__ import annotations

import random

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from exporter.span_metrics import SpanConverter
from sdk_instrumentation.attributes import HISTOGRAM_BUCKETS
from sdk_instrumentation.usage import Usage
from tests.exporter.test_traces import CHAT, PRICING, SECOND, post_traces, span, traces

START = 10 * SECOND  # the start time of tests.exporter.test_traces.span
OPENMETRICS = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}


def traced(number: int, attributes: dict, seconds: float = 1.0, **kwargs):
    """A span of ``attributes`` whose trace id is 16 bytes of ``number`` and span id 8 bytes of ``number + 100``."""
    out = span(attributes, seconds=seconds, **kwargs)
    out.trace_id, out.span_id = bytes([number]) * 16, bytes([number + 100]) * 8
    return out


def ids(number: int) -> tuple[bytes, bytes]:
    return bytes([number]) * 16, bytes([number + 100]) * 8


def metrics_of(*spans, **kwargs) -> dict:
    converted = SpanConverter(PRICING, **kwargs).convert(traces(*spans))
    assert converted.rejected_spans == 0, converted.errors
    return {m.name: m for m in converted.request.resource_metrics[0].scope_metrics[0].metrics}


def exemplars(point) -> list[tuple]:
    return [(e.trace_id, e.span_id, e.time_unix_nano, e.as_double) for e in point.exemplars]


def end(seconds: float) -> int:
    return START + int(seconds * SECOND)


def labels(point) -> dict:
    return {kv.key: kv.value.string_value for kv in point.attributes}


def test_a_histogram_point_has_the_last_span_of_each_bucket():
    # DURATION_BUCKETS: 0.01 0.02 0.04 0.08 0.16 0.32 ... 81.92: 0.3 and then exactly 0.32 both fall in
    # the 0.32 bucket (le), the later one is kept; 100 s is past the last bound.
    durations = {1: 0.005, 2: 0.3, 3: 0.32, 4: 50.0, 5: 100.0}
    metrics = metrics_of(*[traced(n, CHAT, seconds=s) for n, s in durations.items()])
    (point,) = metrics["gen_ai.client.operation.duration"].histogram.data_points
    assert list(point.bucket_counts) == [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert exemplars(point) == [(*ids(1), end(0.005), 0.005), (*ids(3), end(0.32), 0.32),
                                (*ids(4), end(50.0), 50.0), (*ids(5), end(100.0), 100.0)]


def test_token_exemplars_sit_in_their_buckets():
    # TOKEN_BUCKETS: ... 256, 1024, 4096 ...: 1024 input tokens is the 1024 bucket, 1025 the next
    metrics = metrics_of(traced(1, {**CHAT, "gen_ai.usage.input_tokens": 1024, "gen_ai.usage.output_tokens": 3}),
                         traced(2, {**CHAT, "gen_ai.usage.input_tokens": 1025, "gen_ai.usage.output_tokens": 4}))
    points = {labels(p)["gen_ai.token.type"]: p for p in metrics["gen_ai.client.token.usage"].histogram.data_points}
    assert list(points["input"].bucket_counts)[5:7] == [1, 1]
    assert exemplars(points["input"]) == [(*ids(1), end(1.0), 1024.0), (*ids(2), end(1.0), 1025.0)]
    assert exemplars(points["output"]) == [(*ids(2), end(1.0), 4.0)]  # 3 and 4 share the 4 bucket


def test_a_stream_s_time_to_first_chunk_and_throughput_exemplars():
    stream = traced(7, {**CHAT, "gen_ai.request.stream": True, "gen_ai.response.time_to_first_chunk": 0.25},
                    seconds=1.25)
    metrics = metrics_of(stream)
    (first,) = metrics["gen_ai.client.operation.time_to_first_chunk"].histogram.data_points
    (throughput,) = metrics["genai_lens.throughput"].histogram.data_points
    assert exemplars(first) == [(*ids(7), end(1.25), 0.25)]
    assert exemplars(throughput) == [(*ids(7), end(1.25), 200.0)]  # 200 output tokens in the second after it


def test_a_cost_point_has_the_last_span_and_its_own_cost():
    first = {**CHAT, "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200}
    second = {**CHAT, "gen_ai.usage.input_tokens": 3000, "gen_ai.usage.output_tokens": 10,
              "gen_ai.usage.cache_read.input_tokens": 2000}
    metrics = metrics_of(traced(1, first, seconds=2.0), traced(2, second, seconds=3.0))
    a = PRICING.price("openai", "gpt-4o", Usage(input_tokens=1000, output_tokens=200))
    b = PRICING.price("openai", "gpt-4o", Usage(input_tokens=3000, output_tokens=10, cache_read_tokens=2000))
    points = {labels(p)["genai_lens.cost.type"]: p for p in metrics["genai_lens.cost"].sum.data_points}
    for kind in ("input", "output", "other"):
        assert points[kind].as_double == 0.0 + getattr(a, kind) + getattr(b, kind), kind  # summed in span order
        assert exemplars(points[kind]) == [(*ids(2), end(3.0), getattr(b, kind))], kind


def test_unpriced_and_web_search_counters_have_their_increment():
    metrics = metrics_of(traced(1, {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                    "gen_ai.request.model": "gpt-4o"}),                      # no usage
                         traced(2, {**CHAT, "gen_ai.request.model": "no-such-model-anywhere"}),  # no price
                         traced(3, {**CHAT, "genai_lens.web_search.calls": 3}))
    unpriced = {labels(p)["genai_lens.unpriced.reason"]: p
                for p in metrics["genai_lens.unpriced.requests"].sum.data_points}
    assert exemplars(unpriced["no_usage"]) == [(*ids(1), end(1.0), 1.0)]
    assert exemplars(unpriced["no_price"]) == [(*ids(2), end(1.0), 1.0)]
    (searches,) = metrics["genai_lens.web_search.calls"].sum.data_points
    assert (searches.as_int, exemplars(searches)) == (3, [(*ids(3), end(1.0), 3.0)])


def test_spans_without_valid_ids_count_but_give_no_exemplar():
    bad = [traced(n, CHAT, seconds=0.5) for n in range(2, 6)]
    bad[0].trace_id = bytes(16)           # all zero
    bad[1].trace_id = b"\x07" * 15        # not 16 bytes
    bad[2].span_id = bytes(8)             # all zero
    bad[3].span_id = b"\x07" * 7          # not 8 bytes
    metrics = metrics_of(traced(1, CHAT, seconds=0.5), *bad)
    (duration,) = metrics["gen_ai.client.operation.duration"].histogram.data_points
    assert duration.count == 5
    assert exemplars(duration) == [(*ids(1), end(0.5), 0.5)]  # the last span with valid ids
    for point in metrics["genai_lens.cost"].sum.data_points:
        assert [(e.trace_id, e.span_id) for e in point.exemplars] == [ids(1)]
    assert exemplars(metrics_of(*bad)["gen_ai.client.operation.duration"].histogram.data_points[0]) == []


def test_exemplars_are_bounded_and_each_names_a_span_of_its_bucket():
    rng = random.Random(5)
    spans, values = [], {}
    for n in range(200):
        seconds = rng.choice([0.001, 0.5, 3.0, 200.0]) * rng.random()
        tokens = rng.randrange(0, 300_000)
        spans.append(traced(1, {**CHAT, "gen_ai.usage.input_tokens": tokens}, seconds=seconds))
        spans[-1].trace_id = (n + 1).to_bytes(16, "big")
        values[spans[-1].trace_id] = (max(int(seconds * SECOND), 0) / 1e9, tokens)
    metrics = metrics_of(*spans)
    for name, metric in metrics.items():
        for point in metric.histogram.data_points:
            bounds = HISTOGRAM_BUCKETS[name]
            assert 1 <= len(point.exemplars) <= len(bounds) + 1
            buckets = []
            for e in point.exemplars:
                bucket = sum(1 for bound in bounds if e.as_double > bound)  # le: the first bound >= value
                assert point.bucket_counts[bucket] > 0
                buckets.append(bucket)
                if name == "gen_ai.client.operation.duration":
                    assert e.as_double == values[e.trace_id][0]
                if name == "gen_ai.client.token.usage" and labels(point)["gen_ai.token.type"] == "input":
                    assert e.as_double == values[e.trace_id][1]
            assert buckets == sorted(set(buckets))  # one per bucket, in bucket order
        for point in metric.sum.data_points:
            assert len(point.exemplars) == 1 and point.exemplars[0].trace_id == spans[-1].trace_id


def test_costs_are_the_pricing_engine_s_to_the_last_bit():
    cases = [  # (attributes, provider, model, usage, service tier)
        ({**CHAT, "gen_ai.usage.input_tokens": 1234, "gen_ai.usage.output_tokens": 567,
          "gen_ai.usage.cache_read.input_tokens": 1000},
         "openai", "gpt-4o", Usage(input_tokens=1234, output_tokens=567, cache_read_tokens=1000), None),
        ({**CHAT, "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 7777,
          "gen_ai.usage.output_tokens": 333, "openai.response.service_tier": "flex"},
         "openai", "gpt-4o-mini", Usage(input_tokens=7777, output_tokens=333), "flex"),
        ({"gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "gemini",
          "gen_ai.request.model": "gemini-2.5-flash", "gen_ai.usage.input_tokens": 999,
          "gen_ai.usage.output_tokens": 111, "gen_ai.usage.audio.input_tokens": 400},
         "gcp.gemini", "gemini-2.5-flash", Usage(input_tokens=999, output_tokens=111,
                                                 modality_tokens={"input_audio_tokens": 400}), None),
        ({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 5000,
          "gen_ai.usage.output_tokens": 800, "gen_ai.usage.cache_creation.input_tokens": 3000,
          "gen_ai.usage.reasoning.output_tokens": 300},
         "anthropic", "claude-sonnet-4-5", Usage(input_tokens=5000, output_tokens=800, cache_write_tokens=3000,
                                                 reasoning_tokens=300), None),
    ]
    for attributes, provider, model, usage, tier in cases:
        want = PRICING.price(provider, model, usage, tier)
        assert want is not None, model
        points = {labels(p)["genai_lens.cost.type"]: p
                  for p in metrics_of(traced(1, attributes))["genai_lens.cost"].sum.data_points}
        got = {kind: points[kind].as_double for kind in ("input", "output", "other")}
        assert got == {"input": want.input, "output": want.output, "other": want.other}, model
        assert {labels(p)["genai_lens.cost.source"] for p in points.values()} == {want.source}


def test_served_in_openmetrics_with_the_span_s_ids(exporter):
    server = exporter()
    response = post_traces(server, traces(traced(9, CHAT, seconds=0.3)))
    assert response.status_code == 200, response.text
    text = server.metrics(headers=OPENMETRICS)
    families = {f.name: f for f in parse_openmetrics(text)}
    (bucket,) = [s for s in families["gen_ai_client_operation_duration_seconds"].samples
                 if s.name.endswith("_bucket") and s.exemplar is not None]
    trace_id, span_id = ids(9)
    assert bucket.labels["le"] == "0.32"
    assert bucket.exemplar.labels == {"trace_id": trace_id.hex(), "span_id": span_id.hex()}
    assert bucket.exemplar.value == 0.3
