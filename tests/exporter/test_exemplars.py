"""Exemplars: kept from OTLP points (exporter/store.py), served in OpenMetrics (exporter/collector.py)."""

from __future__ import annotations

from opentelemetry.proto.metrics.v1 import metrics_pb2
from prometheus_client.samples import Timestamp
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from exporter.store import Store
from tests.exporter.otlp import CUMULATIVE, T0, gauge_metric, histogram_metric, histogram_point, number_point, request, sum_metric

OPENMETRICS = {"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"}
POINT = {"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"}
TRACE_A, SPAN_A = bytes.fromhex("0af7651916cd43dd8448eb211c80319c"), bytes.fromhex("b7ad6b7169203331")
TRACE_B, SPAN_B = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"), bytes.fromhex("00f067aa0ba902b7")


def exemplar(value, trace_id=TRACE_A, span_id=SPAN_A, time=T0 + 5, as_int=False):
    ex = metrics_pb2.Exemplar(trace_id=trace_id, span_id=span_id, time_unix_nano=time)
    if as_int:
        ex.as_int = value
    else:
        ex.as_double = value
    return ex


def with_exemplars(point, *exemplars):
    point.exemplars.extend(exemplars)
    return point


def duration(*exemplars, counts=(1, 1, 1), total=3.0):
    return histogram_metric("gen_ai.client.operation.duration", "s",
                            [with_exemplars(histogram_point([0.5, 1.0], list(counts), total, POINT), *exemplars)])


def cost(value, *exemplars, temporality=metrics_pb2.AGGREGATION_TEMPORALITY_DELTA):
    return sum_metric("genai_lens.cost", "usd", [with_exemplars(number_point(value, POINT), *exemplars)],
                      temporality=temporality)


def kept(store: Store, family: str) -> list:
    (series,) = store.families_by_name[family].series.values()
    return series.exemplars


def test_histogram_keeps_the_latest_exemplar_per_bucket():
    store = Store(hold_seconds=0)
    store.ingest(request(duration(exemplar(0.2), exemplar(0.7, TRACE_B, SPAN_B), exemplar(2.5))))
    assert kept(store, "gen_ai_client_operation_duration_seconds") == [
        (TRACE_A.hex(), SPAN_A.hex(), 0.2, T0 + 5),
        (TRACE_B.hex(), SPAN_B.hex(), 0.7, T0 + 5),
        (TRACE_A.hex(), SPAN_A.hex(), 2.5, T0 + 5),
    ]
    # le semantics: 0.5 belongs to the first bucket; a later exemplar replaces, an earlier one does not.
    store.ingest(request(duration(exemplar(0.5, TRACE_B, SPAN_B, time=T0 + 9), exemplar(3.0, TRACE_B, SPAN_B, time=T0 + 1))))
    slots = kept(store, "gen_ai_client_operation_duration_seconds")
    assert [slot[:3] for slot in slots] == [(TRACE_B.hex(), SPAN_B.hex(), 0.5), (TRACE_B.hex(), SPAN_B.hex(), 0.7),
                                           (TRACE_A.hex(), SPAN_A.hex(), 2.5)]


def test_counter_keeps_the_latest_exemplar_and_ignores_what_names_no_span():
    store = Store(hold_seconds=0)
    store.ingest(request(cost(0.25, exemplar(0.25), exemplar(3, TRACE_B, SPAN_B, time=T0 + 6, as_int=True))))
    assert kept(store, "genai_lens_cost_usd") == [(TRACE_B.hex(), SPAN_B.hex(), 3.0, T0 + 6)]
    # No trace id, a short span id, zero ids, a NaN value, no value: all ignored, the point still counts.
    bad = [metrics_pb2.Exemplar(as_double=1.0, time_unix_nano=T0 + 9), exemplar(1.0, span_id=b"\x01"),
           exemplar(1.0, trace_id=bytes(16)), exemplar(1.0, span_id=bytes(8)), exemplar(float("nan")),
           metrics_pb2.Exemplar(trace_id=TRACE_A, span_id=SPAN_A, time_unix_nano=T0 + 9)]
    result = store.ingest(request(cost(0.5, *bad), duration(*bad)))
    assert (result.accepted, result.rejected) == (2, {})
    assert kept(store, "genai_lens_cost_usd") == [(TRACE_B.hex(), SPAN_B.hex(), 3.0, T0 + 6)]
    assert kept(store, "gen_ai_client_operation_duration_seconds") == [None, None, None]
    (series,) = store.families_by_name["genai_lens_cost_usd"].series.values()
    assert series.value == 0.75


def test_cumulative_points_keep_exemplars_and_gauges_none():
    store = Store(hold_seconds=0)
    store.ingest(request(cost(1.0, exemplar(1.0), temporality=CUMULATIVE),
                         gauge_metric("queue.fill", "1", [with_exemplars(number_point(0.5), exemplar(0.5))])))
    assert kept(store, "genai_lens_cost_usd")[0][:3] == (TRACE_A.hex(), SPAN_A.hex(), 1.0)
    assert kept(store, "queue_fill_ratio") is None


def test_off_keeps_none():
    store = Store(hold_seconds=0, exemplars=False)
    store.ingest(request(cost(1.0, exemplar(1.0)), duration(exemplar(0.2))))
    assert kept(store, "genai_lens_cost_usd") is None
    assert kept(store, "gen_ai_client_operation_duration_seconds") is None


def test_openmetrics_serves_them_and_the_text_format_does_not(exporter):
    server = exporter()
    assert server.post(request(cost(0.25, exemplar(0.25, time=T0 + 250_000_000)), duration(exemplar(0.2), exemplar(2.5, TRACE_B, SPAN_B)))).status_code == 200
    response = server.client.get(server.url + "/metrics", headers=OPENMETRICS)
    families = {f.name: f for f in parse_openmetrics(response.text)}  # the strict parser
    (total,) = families["genai_lens_cost_usd"].samples
    assert total.exemplar.labels == {"trace_id": TRACE_A.hex(), "span_id": SPAN_A.hex()}
    assert (total.exemplar.value, total.exemplar.timestamp) == (0.25, Timestamp(1_700_000_000, 250_000_000))
    buckets = {s.labels["le"]: s.exemplar for s in families["gen_ai_client_operation_duration_seconds"].samples
               if s.name.endswith("_bucket")}
    assert buckets["0.5"].labels["trace_id"] == TRACE_A.hex() and buckets["0.5"].value == 0.2
    assert buckets["1.0"] is None
    assert buckets["+Inf"].labels == {"trace_id": TRACE_B.hex(), "span_id": SPAN_B.hex()} and buckets["+Inf"].value == 2.5
    assert "trace_id" not in server.metrics()  # text format 0.0.4: no exemplars


def test_held_series_serve_no_exemplar_until_released(exporter):
    server = exporter(new_series_hold_seconds=60)
    server.post(request(cost(0.25, exemplar(0.25))))
    response = server.client.get(server.url + "/metrics", headers=OPENMETRICS)
    (total,) = {f.name: f for f in parse_openmetrics(response.text)}["genai_lens_cost_usd"].samples
    assert (total.value, total.exemplar) == (0.0, None)


def test_settings_turn_them_off(exporter):
    server = exporter(exemplars=False)
    server.post(request(cost(0.25, exemplar(0.25))))
    response = server.client.get(server.url + "/metrics", headers=OPENMETRICS)
    assert "trace_id" not in response.text
